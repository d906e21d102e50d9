//! The matrix as lines of the main job's console, and as the reports' view of it.
//!
//! Cells stay a few words wide so the table fits a terminal; anything longer (why a cell
//! failed) goes into numbered notes under it, and a legend says what the words mean, so the
//! block can be read without this repository at hand.

use std::fmt::Write as _;

use serde_json::Value;

use super::Matrix;
use super::cell::Cell;
use crate::report::model::{MatrixCellView, MatrixView};

pub const TITLE: &str = "compatibility matrix (client × node, through seqtun-relay)";
const CORNER: &str = "client \\ node";

const LEGEND: [&str; 4] = [
    "legend: pipelined = seq sent and echoed, caps bit 0 offered; legacy = no seq on the wire;",
    "  echo-only = seq echoed without caps: an echo is not ordering (§7.2), ok there is luck;",
    "  no-echo = seq sent but not echoed; ok = every byte exact both ways;",
    "  BYTES WRONG / FAILED / TIMEOUT = it was not; * = must work, else the run fails",
];

fn cell_text(c: &Cell, note: Option<usize>) -> String {
    let mut t = format!("{} {}", c.wire.word(), c.delivery.word());
    if c.required {
        t.push('*');
    }
    if let Some(n) = note {
        let _ = write!(t, " [{n}]");
    }
    t
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(out: &mut String, s: &str, w: usize) {
    out.push_str(s);
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
}

/// The block the main job prints: title, header, one row per client, notes, legend and, when a
/// cell that must work did not, the line saying the run fails.
pub fn text(m: &Matrix) -> String {
    let mut notes = Vec::new();
    let texts: Vec<String> = m
        .cells
        .iter()
        .map(|c| {
            let note = c.delivery.detail().map(|d| {
                notes.push(format!("{} × {}: {d}", c.client, c.node));
                notes.len()
            });
            cell_text(c, note)
        })
        .collect();
    let first = m
        .clients
        .iter()
        .map(|l| width(l))
        .chain([width(CORNER)])
        .max()
        .unwrap_or(0)
        + 2;
    let cols = m.nodes.len().max(1);
    let widths: Vec<usize> = m
        .nodes
        .iter()
        .enumerate()
        .map(|(j, label)| {
            texts
                .iter()
                .skip(j)
                .step_by(cols)
                .map(|t| width(t))
                .chain([width(label)])
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let mut out = format!("\n{TITLE}\n");
    let mut line = String::new();
    pad(&mut line, CORNER, first);
    for (label, w) in m.nodes.iter().zip(&widths) {
        pad(&mut line, label, *w);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for (i, client) in m.clients.iter().enumerate() {
        let mut line = String::new();
        pad(&mut line, client, first);
        for (j, w) in widths.iter().enumerate() {
            pad(
                &mut line,
                texts.get(i * cols + j).map_or("", String::as_str),
                *w,
            );
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for (n, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}", n + 1);
    }
    for l in LEGEND {
        out.push_str(l);
        out.push('\n');
    }
    for c in m.broken() {
        let _ = writeln!(
            out,
            "MATRIX FAILED: {} × {} must work but got {}: {}",
            c.client,
            c.node,
            c.delivery.word(),
            c.delivery.detail().unwrap_or_default()
        );
    }
    out
}

/// The matrix as the reports show it.
pub fn view(m: &Matrix) -> MatrixView {
    MatrixView {
        title: TITLE.into(),
        clients: m.clients.clone(),
        nodes: m.nodes.clone(),
        cells: m
            .cells
            .iter()
            .map(|c| MatrixCellView {
                client: c.client.clone(),
                node: c.node.clone(),
                required: c.required,
                wire: c.wire.word().into(),
                delivery: c.delivery.word().into(),
                detail: c.delivery.detail(),
                broken: c.broken(),
                elapsed_ms: c.elapsed_ms,
                facts: serde_json::to_value(&c.facts).unwrap_or(Value::Null),
            })
            .collect(),
        broken: m.broken().len(),
        legend: LEGEND.iter().map(|l| l.trim().to_string()).collect(),
    }
}
