//! seqtun-node: the reference tunnel node.
//!
//! It speaks every deployed dialect of the batch tunnel protocol (legacy, PR #903, PR #1115
//! clients) and implements #903 pipelining: seq'd `data` ops of a session run strictly in seq
//! order. Protocol decisions come from `seqtun-wire`; this crate owns sockets, tasks and time.
//! Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod auth;
pub mod batch;
pub mod cli;
pub mod config;
pub mod deployed;
pub mod ops;
pub mod routes;
pub mod server;
pub mod single;
pub mod standin;
pub mod stats;
pub mod table;
pub mod tcp;
pub mod udp;
pub mod watch;

use std::sync::{Mutex, MutexGuard};

use seqtun_wire::seq_gate::SeqGate;
use seqtun_wire::{CAPS_PIPELINE_SEQ, CAPS_POLL_PREEMPTION};

pub use config::{Faults, NodeConfig};
pub use server::{NodeHandle, spawn};
pub use standin::Deployed;

/// Everything the request handlers share.
pub struct NodeState {
    pub cfg: NodeConfig,
    pub table: table::Table,
    pub stats: stats::NodeStats,
}

impl NodeState {
    pub fn new(cfg: NodeConfig) -> Self {
        let table = table::Table::new(cfg.params.max_sessions);
        Self {
            cfg,
            table,
            stats: stats::NodeStats::default(),
        }
    }

    /// The counters now (`GET /stats`, the stats line, `/metrics`).
    pub fn snapshot(&self) -> stats::NodeSnapshot {
        self.stats.snapshot(self)
    }

    /// The `caps` a successful connect reply carries: bit 0 (seq ordering) and bit 1 (poll
    /// preemption, unless the `no_poll_preemption` fault stands in for a deployed #903 node);
    /// none in legacy mode (or with the `no_caps` fault).
    pub fn caps(&self) -> Option<u32> {
        let preemption = if self.cfg.faults.no_poll_preemption {
            0
        } else {
            CAPS_POLL_PREEMPTION
        };
        (!self.cfg.legacy && !self.cfg.faults.no_caps).then_some(CAPS_PIPELINE_SEQ | preemption)
    }

    /// A fresh session's seq gate.
    pub fn new_gate(&self) -> SeqGate {
        SeqGate::new(
            self.cfg.params.seq_wait_timeout,
            self.cfg.params.seq_max_waiting,
        )
    }
}

impl seqtun_runtime::metrics::StatsSource for NodeState {
    fn stats_json(&self) -> String {
        self.snapshot().to_json()
    }

    fn metrics_text(&self) -> String {
        seqtun_runtime::metrics::render("seqtun_node", self.snapshot().families())
    }
}

/// Locks a std mutex, carrying on if a panicking thread poisoned it: every guarded value here
/// stays consistent between statements, so the data is still sound.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
