//! seqtun-node: the reference tunnel node.
//!
//! It speaks every deployed dialect of the batch tunnel protocol (legacy, PR #903, PR #1115
//! clients) and implements #903 pipelining: seq'd `data` ops of a session run strictly in seq
//! order. Protocol decisions come from `seqtun-wire` (typed ops, the batch planner, the seq'd-op
//! machine, the rules faults change); this crate owns sockets, tasks and time and performs
//! what those name.
//! Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod auth;
pub mod batch;
pub mod cli;
pub mod config;
pub mod deployed;
pub mod exchange;
pub mod memory;
pub mod read_buf;
pub mod reply_body;
pub mod response;
pub mod routes;
pub mod server;
pub mod single;
pub mod standin;
pub mod stats;
pub mod table;
pub mod tcp;
pub mod udp;
pub mod watch;

use std::sync::{Arc, Mutex, MutexGuard};

use seqtun_wire::rules::Rules;
use seqtun_wire::seq_gate::SeqGate;

pub use config::{Faults, NodeConfig};
pub use server::{NodeHandle, spawn};
pub use standin::Deployed;

/// Everything the request handlers share.
pub struct NodeState {
    pub cfg: NodeConfig,
    /// The protocol choices `cfg.legacy` and `cfg.faults` make.
    pub rules: Rules,
    pub table: table::Table,
    pub stats: stats::NodeStats,
    /// The connections of the node's listener (caps, timeouts, shedding).
    pub conns: Arc<seqtun_runtime::conn::Registry>,
}

impl NodeState {
    pub fn new(cfg: NodeConfig) -> Self {
        let p = &cfg.params;
        let memory = memory::Memory::new(
            p.memory_budget,
            p.memory_buffer_percent,
            seqtun_wire::params::SESSION_MEMORY_FLOOR,
            p.read_buf_cap,
        );
        let table = table::Table::new(p.max_sessions, memory);
        let conns = seqtun_runtime::conn::Registry::new(cfg.conn.clone());
        let rules = Rules::new(cfg.legacy, &cfg.faults);
        let rules = match cfg.params.replay_limits() {
            Some(_) => rules,
            None => rules.without_replay(),
        };
        Self {
            rules,
            cfg,
            table,
            stats: stats::NodeStats::default(),
            conns,
        }
    }

    /// The node-wide memory budget (§5.6).
    pub fn memory(&self) -> &Arc<memory::Memory> {
        &self.table.memory
    }

    /// The counters now (`GET /stats`, the stats line, `/metrics`).
    pub fn snapshot(&self) -> stats::NodeSnapshot {
        self.stats.snapshot(self)
    }

    /// A fresh session's seq gate.
    pub fn new_gate(&self) -> SeqGate {
        let gate = SeqGate::new(
            self.cfg.params.seq_wait_timeout,
            self.cfg.params.seq_max_waiting,
        );
        let Some(limits) = self
            .cfg
            .params
            .replay_limits()
            .filter(|_| self.rules.replay_safe)
        else {
            return gate;
        };
        let mut gate = gate.with_replay(limits);
        if self.rules.hold_without_ack {
            // An `ack` of 0 acknowledges nothing but makes the session replay-safe (§7.10).
            gate.ack(0);
        }
        gate
    }

    /// What the node-wide limit on held replies, and the memory budget, still allow (§7.10,
    /// §5.6): a reply beyond either is not held.
    pub fn replay_room(&self) -> usize {
        let by_limit = self
            .cfg
            .params
            .replay_max_node_bytes
            .saturating_sub(self.table.held_reply_bytes());
        let memory = self.memory();
        by_limit.min(memory.limit().saturating_sub(memory.used()))
    }
}

impl seqtun_runtime::metrics::StatsSource for NodeState {
    fn stats_json(&self) -> String {
        let snap = self.snapshot();
        snap.to_json(&self.stats.rates_json(&snap))
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
