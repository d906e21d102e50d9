//! Everything the runner writes after the cases ran: the console summary, the comparison of
//! several targets, `--report-json`, `--junit`, `--report-html`, and the `--expect` comparison
//! that decides the exit code for known-broken targets.

pub mod compare;
pub mod expect;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod summary;

use std::path::Path;

/// Checks before the run that a report can be written at `path`, so a typo in a directory
/// fails at once and not after a ten-minute run. A file created for the check is removed again.
pub fn check_writable(flag: &str, path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{flag} {} is a directory; give a file name",
            path.display()
        ));
    }
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path);
    match opened {
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot write {flag} {}: {e} (does its directory exist, and may this user write there?)",
            path.display()
        )),
    }
}
