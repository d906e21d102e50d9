//! The codec table, from criterion's own estimates (`target/criterion/codec/.../new/
//! estimates.json`, the median time per iteration), so the table and criterion's report are
//! one measurement.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::codec::Case;
use crate::report::{load_average, output_dir};

/// The paths in table order: (criterion function, column heading).
const PATHS: [(&str, &str); 4] = [
    ("client_encode", "client encode"),
    ("node_decode", "node decode"),
    ("node_encode", "node encode"),
    ("client_decode", "client decode"),
];

/// Where criterion keeps its results: `$CRITERION_HOME`, else next to the bench tables.
fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(home) => PathBuf::from(home),
        None => output_dir().parent().map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        ),
    }
}

/// Median seconds per iteration of one bench, if criterion measured it.
fn median_secs(function: &str, label: &str) -> Option<f64> {
    let path = criterion_dir()
        .join("codec")
        .join(function)
        .join(label)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v["median"]["point_estimate"].as_f64()? / 1e9)
}

/// The table as Markdown; `None` when criterion measured none of it (filtered out).
pub fn markdown(load_before: Option<String>) -> Option<String> {
    let mut out = String::from(
        "### codec (payload MB/s on one core; encode+decode is one direction's whole cost)\n\n",
    );
    let _ = writeln!(
        out,
        "Target: at least 500 MB/s through encode+decode for 1 MiB ops. Load average (1/5/15 \
         min) before: {}; after: {}.\n",
        load_before.as_deref().unwrap_or("n/a"),
        load_average().as_deref().unwrap_or("n/a")
    );
    out.push_str("| batch | client encode | node decode | up: encode+decode | node encode | client decode | down: encode+decode |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let mut any = false;
    for case in Case::ALL {
        let label = case.label();
        let t: Vec<Option<f64>> = PATHS.iter().map(|(f, _)| median_secs(f, &label)).collect();
        any |= t.iter().any(Option::is_some);
        let rate = |secs: Option<f64>| {
            secs.map_or("–".into(), |s| {
                format!("{:.0}", case.bytes() as f64 / s / 1e6)
            })
        };
        let pair = |a: Option<f64>, b: Option<f64>| rate(a.zip(b).map(|(a, b)| a + b));
        let _ = writeln!(
            out,
            "| {} × {} | {} | {} | {} | {} | {} | {} |",
            case.ops,
            label.split('x').next().unwrap_or_default(),
            rate(t[0]),
            rate(t[1]),
            pair(t[0], t[1]),
            rate(t[2]),
            rate(t[3]),
            pair(t[2], t[3]),
        );
    }
    any.then_some(out)
}

/// Prints the table and writes `target/seqtun-bench/codec.md`.
pub fn publish(load_before: Option<String>) {
    let Some(text) = markdown(load_before) else {
        return;
    };
    println!("\n{text}");
    let dir = output_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("codec.md"), &text);
    }
}
