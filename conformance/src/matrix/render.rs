//! The matrix as the last lines of the main job, and as a `matrix` section of the JSON report.
//!
//! Cells stay a few words wide so the table fits a terminal; anything longer (why a cell
//! failed) goes into numbered notes under it, and a legend says what the words mean, so the
//! block can be read without this repository at hand.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::Matrix;
use super::cell::Cell;

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

/// The matrix as JSON.
pub fn json(m: &Matrix) -> Value {
    json!({
        "title": TITLE,
        "clients": m.clients,
        "nodes": m.nodes,
        "cells": m.cells,
        "broken": m.broken().len(),
    })
}

/// Adds `matrix` to a JSON report already written at `path`.
pub fn add_to_report(path: &Path, m: &Matrix) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut report: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let Some(obj) = report.as_object_mut() else {
        return Err(std::io::Error::other("the report is not a JSON object"));
    };
    obj.insert("matrix".into(), json(m));
    let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
