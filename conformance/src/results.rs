//! The result of one case against one target, as every report sees it.

use std::time::Duration;

use serde::Serialize;

use crate::case::{Case, Level};
use crate::verdict::{Grade, Outcome};

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The target's label.
    pub target: String,
    /// The name shown on the console and used by filters and `--expect`.
    pub name: String,
    pub id: String,
    pub title: String,
    pub section: String,
    pub level: Level,
    pub flags: Vec<String>,
    pub grade: Grade,
    pub outcome: Outcome,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl CaseResult {
    pub fn new(
        target: &str,
        name: String,
        case: &Case,
        outcome: Outcome,
        strict: bool,
        duration: Duration,
    ) -> Self {
        Self {
            target: target.to_string(),
            name,
            id: case.id.clone(),
            title: case.file.title.clone(),
            section: case.file.section.clone(),
            level: case.file.level,
            flags: case.file.flags.clone(),
            grade: Grade::of(&outcome, case.file.level, strict),
            outcome,
            duration,
        }
    }
}
