//! `--report-json`: the whole [`Report`], in the format
//! `conformance/judge/report.schema.json` documents (a test checks every report the runner
//! writes against it).

use std::path::Path;

use super::model::Report;

/// The schema of the JSON report, for tools that validate it.
pub const SCHEMA: &str = include_str!("../../report.schema.json");

pub fn write(path: &Path, report: &Report) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
