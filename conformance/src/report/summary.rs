//! The console summary printed after the per-case lines: per target its dialect and graded
//! counts, then one line per case that did not simply pass.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::json::TargetInfo;
use crate::results::CaseResult;
use crate::verdict::{Grade, Outcome};

pub fn render(targets: &[TargetInfo], results: &[CaseResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nseqtun-conform report");
    for t in targets {
        let mine: Vec<&CaseResult> = results.iter().filter(|r| r.target == t.label).collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &mine {
            *counts.entry(r.grade.word()).or_default() += 1;
        }
        let _ = writeln!(out, "  {} ({} role): {}", t.label, t.role, t.dialect);
        let _ = writeln!(
            out,
            "    {} ok, {} failed, {} non-strict, {} informational, {} ignored, {} unsupported",
            counts.get("pass").unwrap_or(&0),
            counts.get("fail").unwrap_or(&0),
            counts.get("non-strict").unwrap_or(&0),
            counts.get("informational").unwrap_or(&0),
            counts.get("ignored").unwrap_or(&0),
            counts.get("unsupported").unwrap_or(&0),
        );
        for r in mine
            .iter()
            .filter(|r| !matches!(r.grade, Grade::Ok | Grade::Ignored))
        {
            let detail = match &r.outcome {
                Outcome::Fail(f) => format!(
                    "step {}: {}; expected {}; seen {}",
                    f.step, f.what, f.expected, f.seen
                ),
                Outcome::Unsupported { reason } => reason.clone(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "    {:<13} {} (§{}): {}",
                r.grade.word().to_uppercase(),
                r.id,
                r.section,
                detail
            );
        }
    }
    out
}
