//! How much the runner reads from a target in one piece, whatever the target does: a reply
//! body (plain, and again once inflated), a client's request body at the fake node (likewise),
//! and the stream one fixture connection or one app connection records.
//!
//! The target may be broken or hostile: a node answering 1 GiB or an endless chunked body, a
//! 3 MiB gzip bomb, or a client writing without end once drove the runner past 6 GiB. One budget,
//! set once from `--max-read-bytes` before any case runs, bounds them all.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The default budget: a batch reply of a node on the seqtun profile carries at most
/// `batch_budget` (32 MiB) of payload, about 43 MiB as base64 in JSON, and the largest stream a
/// vector checks is 2.5 × `drain_max` (40 MiB).
pub const DEFAULT_MAX_READ: usize = 64 * 1024 * 1024;

static MAX_READ: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_READ);

/// The budget in force.
pub fn max_read() -> usize {
    MAX_READ.load(Ordering::Relaxed)
}

/// Sets the budget (from `--max-read-bytes`).
pub fn set_max_read(bytes: usize) {
    MAX_READ.store(bytes.max(1), Ordering::Relaxed);
}
