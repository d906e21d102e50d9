//! `--expect FILE`: a target's known results, each with its reason, so a run against a peer with
//! known gaps fails only on *unexpected* results, in either direction: a known failure that now
//! passes is news too.
//!
//! The file maps case names (as printed on the console) to `{"result": "...", "reason": "..."}`,
//! where result is one of pass, fail, non-strict, informational, ignored, unsupported. Cases not
//! listed are expected not to fail.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::results::CaseResult;
use crate::verdict::Grade;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub result: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("cannot read --expect file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("--expect file {0} is not valid: {1}")]
    Parse(String, serde_json::Error),
    #[error(
        "--expect file {0}: `{1}` is not a result (use pass, fail, non-strict, informational, ignored or unsupported)"
    )]
    Result(String, String),
}

pub fn load(path: &Path) -> Result<BTreeMap<String, Expected>, ExpectError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ExpectError::Io(p.clone(), e))?;
    let map: BTreeMap<String, Expected> =
        serde_json::from_str(&text).map_err(|e| ExpectError::Parse(p.clone(), e))?;
    const WORDS: [&str; 6] = [
        "pass",
        "fail",
        "non-strict",
        "informational",
        "ignored",
        "unsupported",
    ];
    if let Some(bad) = map.values().find(|e| !WORDS.contains(&e.result.as_str())) {
        return Err(ExpectError::Result(p, bad.result.clone()));
    }
    Ok(map)
}

/// Results that differ from the expectations, as printable lines.
pub fn surprises(results: &[CaseResult], expected: &BTreeMap<String, Expected>) -> Vec<String> {
    let mut out = Vec::new();
    for r in results {
        match expected.get(&r.name) {
            Some(e) if e.result != r.grade.word() => out.push(format!(
                "{}: expected {} ({}), got {}",
                r.name,
                e.result,
                e.reason,
                r.grade.word()
            )),
            None if r.grade == Grade::Failed => out.push(format!("{}: unexpected failure", r.name)),
            _ => {}
        }
    }
    out
}

/// Names listed in the file that no case ran under (renamed, or filtered out): a warning.
pub fn unused<'a>(
    results: &[CaseResult],
    expected: &'a BTreeMap<String, Expected>,
) -> Vec<&'a str> {
    expected
        .keys()
        .filter(|name| !results.iter().any(|r| &r.name == *name))
        .map(String::as_str)
        .collect()
}
