//! `--expect FILE`: a target's known results, each with its reason, so a run against a peer with
//! known gaps fails only on *unexpected* results, in either direction: a known failure that now
//! passes is news too.
//!
//! The file maps case names to `{"result": "...", "reason": "..."}`. A name is a case id as
//! reports print it (`node/seq/hold-later-seq`, for every target) or a full trial name
//! (`TARGET::node/seq/hold-later-seq`, one target); the full name wins. `result` is a grade word:
//! pass, fail, soft-fail, informational, ignored, unsupported (`non-strict`, soft-fail's old
//! name, is read as soft-fail). Cases not listed are expected not to fail. The file is read and
//! checked before the first case runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::results::CaseResult;
use crate::verdict::Grade;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub result: String,
    pub reason: String,
}

/// The file's entries by name.
pub type Expectations = BTreeMap<String, Expected>;

#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("cannot read --expect file {0}: {1}")]
    Io(String, std::io::Error),
    #[error(
        "--expect file {0} is not valid: {1} (it maps case names to {{\"result\": \"fail\", \"reason\": \"why\"}}; see the README)"
    )]
    Parse(String, serde_json::Error),
    #[error(
        "--expect file {0}: `{2}` for {1} is not a result (use pass, fail, soft-fail, informational, ignored or unsupported)"
    )]
    Result(String, String, String),
    #[error("--expect file {0}: {1} has an empty reason (say why the result is expected)")]
    Reason(String, String),
}

pub fn load(path: &Path) -> Result<Expectations, ExpectError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ExpectError::Io(p.clone(), e))?;
    let mut map: Expectations =
        serde_json::from_str(&text).map_err(|e| ExpectError::Parse(p.clone(), e))?;
    for (name, e) in map.iter_mut() {
        let Some(grade) = Grade::from_word(&e.result) else {
            return Err(ExpectError::Result(p, name.clone(), e.result.clone()));
        };
        e.result = grade.word().to_string();
        if e.reason.trim().is_empty() {
            return Err(ExpectError::Reason(p, name.clone()));
        }
    }
    Ok(map)
}

/// Names in the file that are no case id, with or without a target prefix: likely typos.
pub fn unknown<'a>(expected: &'a Expectations, ids: &[&str]) -> Vec<&'a str> {
    expected
        .keys()
        .filter(|name| {
            let id = name.rsplit_once("::").map_or(name.as_str(), |(_, id)| id);
            !ids.contains(&id)
        })
        .map(String::as_str)
        .collect()
}

/// Marks each result with its expectation and, where it differs, why; returns the surprises as
/// printable lines.
pub fn apply(results: &mut [CaseResult], expected: &Expectations) -> Vec<String> {
    let mut out = Vec::new();
    for r in results.iter_mut() {
        let e = expected.get(&r.name).or_else(|| expected.get(&r.id));
        r.expected = e.cloned();
        let surprise = match e {
            Some(e) if e.result != r.grade.word() => Some(format!(
                "expected {} ({}), got {}",
                e.result,
                e.reason,
                r.grade.word()
            )),
            None if r.grade == Grade::Failed => Some("unexpected failure".into()),
            _ => None,
        };
        if let Some(s) = &surprise {
            out.push(format!("{}: {s}", r.name));
        }
        r.unexpected = surprise;
    }
    out
}

/// Names listed in the file that no case ran under (renamed, or filtered out): a warning.
pub fn unused<'a>(results: &[CaseResult], expected: &'a Expectations) -> Vec<&'a str> {
    expected
        .keys()
        .filter(|name| !results.iter().any(|r| &r.name == *name || &r.id == *name))
        .map(String::as_str)
        .collect()
}
