//! Everything the runner writes after the cases ran: the console summary, `--report-json`,
//! `--junit`, and the `--expect` comparison that decides the exit code for known-broken targets.

pub mod expect;
pub mod json;
pub mod junit;
pub mod summary;
