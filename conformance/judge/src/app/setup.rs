//! Everything checked before the first case runs: the vectors, the profile and parameters, and
//! every output the run will write (`--report-json`, `--junit`, `--report-html`) and read
//! (`--expect`), so a typo fails in a second rather than after a ten-minute run.

use std::process::ExitCode;

use crate::case::{Case, load_dir};
use crate::cli::Common;
use crate::console::Console;
use crate::expr::Params;
use crate::report::expect::{self, Expectations};

use super::EXIT_SETUP;

/// Prints a setup error (it names the fix) and gives the exit code for it.
pub fn error(msg: String) -> ExitCode {
    eprintln!("seqtun-conform: {msg}");
    ExitCode::from(EXIT_SETUP)
}

/// Loads the vectors; a directory without any is an error, not an empty green run.
pub fn load(common: &Common) -> Result<Vec<Case>, ExitCode> {
    let (dir, source) = crate::vectors_dir::find(common.vectors.as_deref());
    let found = format!(
        "found by {}; point --vectors or SEQTUN_VECTORS at the vectors/ directory, or put it next to the binary",
        source.describe()
    );
    let cases = load_dir(&dir).map_err(|e| error(format!("{e} ({found})")))?;
    if cases.is_empty() {
        return Err(error(format!(
            "no vectors in {}: expected node/<area>/<case>.json and client/<area>/<case>.json files ({found})",
            dir.display()
        )));
    }
    Ok(cases)
}

/// A built-in profile with `--param` overrides applied.
pub fn params(profile: &str, overrides: &[String]) -> Result<Params, ExitCode> {
    let Some(mut params) = crate::params::profile(profile) else {
        return Err(error(format!(
            "unknown --profile {profile} (use one of {})",
            crate::params::PROFILES.join(", ")
        )));
    };
    crate::params::apply(&mut params, overrides).map_err(|e| error(e.to_string()))?;
    Ok(params)
}

/// `--list-params`: every parameter with its value in the chosen profile.
pub fn list_params(console: &Console, profile: &str, params: &Params, note: &str) {
    console.line(&format!(
        "parameters of profile {profile}{note} (--param NAME=VALUE overrides one):"
    ));
    for (k, what) in crate::params::KNOWN {
        let v = params.get(*k).copied().unwrap_or_default();
        console.line(&format!("  {k:<24} {v:>10}  {what}"));
    }
}

/// Checks the outputs and reads `--expect`, before anything runs.
pub fn outputs(common: &Common, cases: &[Case]) -> Result<Option<Expectations>, ExitCode> {
    for (flag, path) in [
        ("--report-json", &common.report_json),
        ("--junit", &common.junit),
        ("--report-html", &common.report_html),
    ] {
        if let Some(p) = path {
            crate::report::check_writable(flag, p).map_err(error)?;
        }
    }
    let Some(path) = &common.expect else {
        return Ok(None);
    };
    let expected = expect::load(path).map_err(|e| error(e.to_string()))?;
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for name in expect::unknown(&expected, &ids) {
        eprintln!(
            "seqtun-conform: warning: --expect file {} lists {name}, which is no case id (a typo, or a case renamed?)",
            path.display()
        );
    }
    Ok(Some(expected))
}
