//! seqtun-conform: the conformance runner's binary and its main job. It starts the reference
//! implementations in-process (node pipelined, `--legacy` and behind seqtun-relay; client
//! pipelined, through an Apps Script URL and `--no-pipelining`), has seqtun-judge grade them as
//! it grades any target, then runs the compatibility matrix of real client, relay and node
//! pairs.
//!
//! The reference crates appear only here (`builtin`, `matrix`), and only to start them; the
//! verdicts come from seqtun-judge, which cannot see their types. The judge's modules are
//! re-exported where they stood before it became a crate of its own, so code written against
//! `seqtun_conform::case` and friends keeps working.

pub mod app;
pub mod builtin;
pub mod cli;
pub mod matrix;

pub use seqtun_judge::{
    case, client, console, expr, fixtures, http, limits, matcher, node, params, progress, repeat,
    report, results, target, vars, vectors_dir, verdict, wake,
};
