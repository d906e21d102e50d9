//! What every report is built from: the run, its targets, each case's result, the comparison
//! of several targets and, in the main job, the compatibility matrix. One value, rendered as
//! JSON (`--report-json`, whose format `conformance/judge/report.schema.json` documents), JUnit
//! XML and HTML, so the three never disagree.
//!
//! Field order is the struct order below and never depends on a map's iteration, so two
//! reports diff cleanly.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::results::CaseResult;
use crate::verdict::Grade;

/// Counts by grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub cases: usize,
    pub pass: usize,
    pub fail: usize,
    pub soft_fail: usize,
    pub informational: usize,
    pub ignored: usize,
    pub unsupported: usize,
}

impl Totals {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut t = Totals::default();
        for r in results {
            t.cases += 1;
            *match r.grade {
                Grade::Ok => &mut t.pass,
                Grade::Failed => &mut t.fail,
                Grade::SoftFail => &mut t.soft_fail,
                Grade::Informational => &mut t.informational,
                Grade::Ignored => &mut t.ignored,
                Grade::Unsupported => &mut t.unsupported,
            } += 1;
        }
        t
    }

    /// The count of one grade.
    pub fn get(&self, g: Grade) -> usize {
        match g {
            Grade::Ok => self.pass,
            Grade::Failed => self.fail,
            Grade::SoftFail => self.soft_fail,
            Grade::Informational => self.informational,
            Grade::Ignored => self.ignored,
            Grade::Unsupported => self.unsupported,
        }
    }
}

/// What the runner knew about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    pub label: String,
    pub role: &'static str,
    /// Where it was reached; `None` for client targets started from a command.
    pub url: Option<String>,
    /// Started by the runner in-process (its ports are gone after the run).
    pub in_process: bool,
    pub dialect: String,
    /// The dialect in one word, for table headers (`#903`, `legacy`, ...).
    pub dialect_short: String,
    pub features: Vec<String>,
    /// The profile its parameters came from (`seqtun`, `fast`, ...), before any `--param`.
    pub profile: String,
    /// The parameter values cases ran with.
    pub params: BTreeMap<String, f64>,
    /// Each parameter's unit (`ms`, `bytes`, `datagrams`).
    pub param_units: BTreeMap<String, String>,
    pub totals: Totals,
}

impl TargetInfo {
    /// What a probe found; where the target is and its profile are filled in by the caller.
    pub fn probed(
        label: &str,
        role: &'static str,
        dialect: (String, &str),
        features: &std::collections::BTreeSet<String>,
        params: &crate::expr::Params,
    ) -> Self {
        Self {
            label: label.to_string(),
            role,
            url: None,
            in_process: false,
            dialect: dialect.0,
            dialect_short: dialect.1.to_string(),
            features: features.iter().cloned().collect(),
            profile: String::new(),
            params: params.clone(),
            param_units: param_units(),
            totals: Totals::default(),
        }
    }
}

/// `--expect`'s part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectReport {
    pub file: String,
    /// Results that differ from the file, as printed.
    pub unexpected: Vec<String>,
    /// Names the file lists that did not run.
    pub unused: Vec<String>,
}

/// One column of a comparison: a target and its dialect.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub label: String,
    pub dialect: String,
}

/// One case across the targets of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub level: String,
    pub section: String,
    pub title: String,
    /// One grade word per column; `null` where the case did not run against that target.
    pub results: Vec<Option<String>>,
    /// The targets did not all get the same grade.
    pub differs: bool,
}

/// Every case against several targets of one role, side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub role: &'static str,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// One cell of the compatibility matrix.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixCellView {
    pub client: String,
    pub node: String,
    /// A cell between two plain seqtun builds: it must work.
    pub required: bool,
    /// What the pair agreed on (`pipelined`, `legacy`, `echo-only`, `no-echo`).
    pub wire: String,
    /// Whether every byte arrived (`ok`, `BYTES WRONG`, `FAILED`, `TIMEOUT`).
    pub delivery: String,
    pub detail: Option<String>,
    pub broken: bool,
    pub elapsed_ms: u64,
    /// The raw wire facts the verdict came from.
    pub facts: serde_json::Value,
}

/// The compatibility matrix of the main job.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixView {
    pub title: String,
    pub clients: Vec<String>,
    pub nodes: Vec<String>,
    pub cells: Vec<MatrixCellView>,
    pub broken: usize,
    pub legend: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started: String,
    pub duration_ms: u64,
    /// `pass` when the process exits 0, else `fail`.
    pub verdict: &'static str,
    pub exit_code: u8,
    pub strict: bool,
    pub quick: bool,
    pub totals: Totals,
    pub expect: Option<ExpectReport>,
    pub targets: Vec<TargetInfo>,
    pub cases: Vec<CaseResult>,
    pub comparisons: Vec<Comparison>,
    pub matrix: Option<MatrixView>,
}

/// RFC 3339 in UTC, to the millisecond.
pub fn timestamp(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Each parameter's unit, from the first word of its description (`ms`, `bytes`, ...).
pub fn param_units() -> BTreeMap<String, String> {
    crate::params::KNOWN
        .iter()
        .map(|(k, what)| {
            let unit = what.split_whitespace().next().unwrap_or_default();
            (k.to_string(), unit.to_string())
        })
        .collect()
}
