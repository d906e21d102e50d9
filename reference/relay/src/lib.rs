//! seqtun-relay: an emulator of the Apps Script relay hop, and the library that runs it.
//!
//! Every client batch crosses an Apps Script deployment in the field, and that hop is where
//! pipelining gets hurt: 1.5–2.5 s per call, 30 concurrent executions, a daily quota, a
//! response cap, and batches that are lost, duplicated, late or mangled. A client or node
//! that was only ever tested against a perfect hop proves little, so this crate reproduces the
//! hop as a real HTTP server with those limits and with faults injected from a seed, so any
//! failure can be replayed exactly. The script a user deploys to real Apps Script is
//! `apps-script/Relay.gs`; [`dialect`] is the same logic in Rust, and a test runs both.
//!
//! Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod body_memory;
pub mod cli;
pub mod config;
pub mod dialect;
pub mod exec;
pub mod faults;
pub mod js_json;
pub mod limits;
pub mod node_client;
pub mod pages;
pub mod redirect;
pub mod response;
pub mod rewrite;
pub mod routes;
pub mod server;
pub mod state;
pub mod stats;

use std::sync::{Mutex, MutexGuard};

pub use config::{ConfigError, RelayConfig};
pub use faults::{Action, DuplicateReply, FaultPlan, FaultRates, Source};
pub use limits::Limits;
pub use server::{RelayHandle, spawn};
pub use stats::{DeploymentStats, StatsSnapshot};

/// Locks a std mutex, carrying on if a panicking thread poisoned it: every guarded value here
/// stays consistent between statements, so the data is still sound.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
