//! `--report-json`: every case result plus what the runner learned about each target.

use std::path::Path;

use serde::Serialize;

use crate::results::CaseResult;

/// What the runner knew about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    pub label: String,
    pub role: &'static str,
    pub dialect: String,
    pub features: Vec<String>,
    pub params: std::collections::BTreeMap<String, f64>,
}

#[derive(Serialize)]
struct Report<'a> {
    tool: &'static str,
    version: &'static str,
    strict: bool,
    targets: &'a [TargetInfo],
    cases: &'a [CaseResult],
}

pub fn write(
    path: &Path,
    targets: &[TargetInfo],
    cases: &[CaseResult],
    strict: bool,
) -> std::io::Result<()> {
    let report = Report {
        tool: "seqtun-conform",
        version: env!("CARGO_PKG_VERSION"),
        strict,
        targets,
        cases,
    };
    let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
