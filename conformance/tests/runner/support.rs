//! Running the `seqtun-conform` binary the way a user does and reading what it reports, shared
//! by the tests that drive it from outside.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs the runner binary with `args` and waits for it.
pub fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seqtun-conform"))
        .args(args)
        .output()
        .unwrap()
}

/// Everything the run printed, stdout then stderr, for assertions and their messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `--report-json` file the run wrote.
pub fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// How many cases of `report` got `grade`.
pub fn count(report: &Value, grade: &str) -> usize {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["grade"] == grade)
        .count()
}
