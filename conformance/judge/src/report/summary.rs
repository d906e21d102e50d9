//! The console summary printed after the failures: per target its dialect, profile and graded
//! counts, then one line per case that did not simply pass.

use std::fmt::Write as _;

use super::model::{Report, Totals};
use crate::verdict::{Grade, Outcome};

/// `100 passed, 0 failed, 2 soft-failed, 0 informational, 0 ignored, 0 unsupported`.
pub fn counts(t: &Totals) -> String {
    format!(
        "{} passed, {} failed, {} soft-failed, {} informational, {} ignored, {} unsupported",
        t.pass, t.fail, t.soft_fail, t.informational, t.ignored, t.unsupported
    )
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nseqtun-conform report");
    for t in &report.targets {
        let where_ = match (&t.url, t.in_process) {
            (Some(u), false) if *u != t.label => format!(" at {u}"),
            (_, true) => " (in-process)".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} ({} role{where_}): {}",
            t.label, t.role, t.dialect
        );
        let _ = writeln!(out, "    profile {}; {}", t.profile, counts(&t.totals));
        for r in report
            .cases
            .iter()
            .filter(|r| r.target == t.label && !matches!(r.grade, Grade::Ok | Grade::Ignored))
        {
            let detail = match &r.outcome {
                Outcome::Fail(f) => f.line(),
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
