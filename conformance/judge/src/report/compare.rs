//! Several targets side by side: one row per case, one column per target with its dialect, so
//! an operator comparing implementations sees at a glance where they differ.

use std::fmt::Write as _;

use super::model::{Column, Comparison, Row, TargetInfo};
use crate::results::CaseResult;

/// One comparison per role that has more than one target.
pub fn build(targets: &[TargetInfo], results: &[CaseResult]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for role in ["node", "client"] {
        let cols: Vec<&TargetInfo> = targets.iter().filter(|t| t.role == role).collect();
        if cols.len() < 2 {
            continue;
        }
        let mut ids: Vec<&CaseResult> = Vec::new();
        for r in results
            .iter()
            .filter(|r| cols.iter().any(|c| c.label == r.target))
        {
            if !ids.iter().any(|seen| seen.id == r.id) {
                ids.push(r);
            }
        }
        ids.sort_by(|a, b| a.id.cmp(&b.id));
        let rows: Vec<Row> = ids
            .into_iter()
            .map(|first| {
                let results: Vec<Option<String>> = cols
                    .iter()
                    .map(|c| {
                        results
                            .iter()
                            .find(|r| r.target == c.label && r.id == first.id)
                            .map(|r| r.grade.word().to_string())
                    })
                    .collect();
                let differs = results.iter().any(|g| g != &results[0]);
                Row {
                    id: first.id.clone(),
                    level: first.level.word().into(),
                    section: first.section.clone(),
                    title: first.title.clone(),
                    results,
                    differs,
                }
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push(Comparison {
            role,
            columns: cols
                .iter()
                .map(|t| Column {
                    label: t.label.clone(),
                    dialect: t.dialect_short.clone(),
                })
                .collect(),
            rows,
        });
    }
    out
}

/// The table as the console prints it: a header of target labels and their dialects, one line
/// per case (only the cases whose results differ with `only_differences`), rows where the
/// targets differ marked `*`.
pub fn text(c: &Comparison, only_differences: bool) -> String {
    let id_w = c.rows.iter().map(|r| r.id.len()).max().unwrap_or(0).max(4);
    let widths: Vec<usize> = c
        .columns
        .iter()
        .map(|col| col.label.len().max(col.dialect.len()).max(13))
        .collect();
    let mut out = format!(
        "\ncomparison of {} {} targets (case × target; * = the targets differ)\n",
        c.columns.len(),
        c.role
    );
    let mut head = format!("  {:<id_w$}", "case");
    let mut dialects = format!("  {:<id_w$}", "");
    for (col, w) in c.columns.iter().zip(&widths) {
        let _ = write!(head, "  {:<w$}", col.label);
        let _ = write!(dialects, "  {:<w$}", col.dialect);
    }
    let _ = writeln!(out, "{}", head.trim_end());
    let _ = writeln!(out, "{}", dialects.trim_end());
    for r in c.rows.iter().filter(|r| r.differs || !only_differences) {
        let mark = if r.differs { '*' } else { ' ' };
        let mut line = format!("{mark} {:<id_w$}", r.id);
        for (g, w) in r.results.iter().zip(&widths) {
            let _ = write!(line, "  {:<w$}", g.as_deref().unwrap_or("-"));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let differ = c.rows.iter().filter(|r| r.differs).count();
    let _ = writeln!(
        out,
        "{} cases, {differ} with different results across the targets{}",
        c.rows.len(),
        if only_differences {
            " (only those are shown; --report-html and --report-json have every row)"
        } else {
            ""
        }
    );
    out
}
