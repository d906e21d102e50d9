//! The result of one case against one target, as every report sees it.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::case::{Case, Level};
use crate::report::expect::Expected;
use crate::verdict::{Grade, Outcome};

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The target's label.
    pub target: String,
    /// The name shown on the console and used by filters and `--expect`.
    pub name: String,
    pub id: String,
    /// The case's directory, e.g. `node/seq` (JUnit groups by it).
    pub area: String,
    pub title: String,
    pub section: String,
    pub level: Level,
    pub flags: Vec<String>,
    pub grade: Grade,
    pub outcome: Outcome,
    /// When the case started, RFC 3339 UTC; `None` when it did not run.
    pub started: Option<String>,
    pub duration_ms: u64,
    /// What `--expect` said about this case.
    pub expected: Option<Expected>,
    /// Why the result surprised `--expect`, when it did.
    pub unexpected: Option<String>,
}

impl CaseResult {
    pub fn new(
        target: &str,
        name: String,
        case: &Case,
        outcome: Outcome,
        strict: bool,
        timing: Option<(SystemTime, Duration)>,
    ) -> Self {
        let area = case
            .id
            .rsplit_once('/')
            .map_or(case.id.as_str(), |(a, _)| a)
            .to_string();
        Self {
            target: target.to_string(),
            name,
            id: case.id.clone(),
            area,
            title: case.file.title.clone(),
            section: case.file.section.clone(),
            level: case.file.level,
            flags: case.file.flags.clone(),
            grade: Grade::of(&outcome, case.file.level, strict),
            outcome,
            started: timing.map(|(t, _)| crate::report::model::timestamp(t)),
            duration_ms: timing.map_or(0, |(_, d)| d.as_millis() as u64),
            expected: None,
            unexpected: None,
        }
    }
}
