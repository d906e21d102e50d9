//! The reference node as a stand-in for a deployed node, divergences included.
//!
//! Users run seqtun-client and the conformance suite against deployed nodes, and a matrix that
//! only pairs seqtun with seqtun shows nothing they would hit: the 2 MiB body limit broke
//! seqtun-client's uploads while every seqtun-only test passed. Each divergence of the field
//! record (wire-reference §1.4, §5, §11) that can be switched on is a named fault
//! ([`Faults`]); this module says which ones each deployed node has, and with which long-poll.
//! The seqtun-only limits (§9) do not exist on deployed nodes, so a stand-in sets them out of
//! reach. What cannot be switched on (task panics leaving gaps, the cross-batch close race,
//! `notify_one` wakeups) is listed in docs/PROTOCOL.md §11.

use std::time::Duration;

use crate::config::{Faults, NodeConfig};

/// A limit a deployed node does not have: far beyond anything a test reaches.
const OUT_OF_REACH: usize = 1 << 30;

/// The deployed nodes the reference node can stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployed {
    /// The tunnel-node with PR #903 applied: caps, ordered seq, 15 s long-poll.
    Node903,
    /// The tunnel-node after PR #1115: echoes seq without ordering, no caps, 2 s long-poll.
    NodeMain,
}

impl Deployed {
    pub const ALL: [Deployed; 2] = [Deployed::Node903, Deployed::NodeMain];

    /// The name the matrix and reports use.
    pub fn label(self) -> &'static str {
        match self {
            Deployed::Node903 => "NODE-903-like node",
            Deployed::NodeMain => "NODE-MAIN-like node",
        }
    }

    /// Its `LONGPOLL_DEADLINE` (wire-reference §9.1).
    pub fn longpoll(self) -> Duration {
        match self {
            Deployed::Node903 => Duration::from_secs(15),
            Deployed::NodeMain => Duration::from_secs(2),
        }
    }

    /// Every divergence this node has that the reference node can reproduce.
    pub fn faults(self) -> Faults {
        let both = Faults {
            deployed_body_limit: true,
            deployed_http_surface: true,
            missing_key_is_bad_json: true,
            no_poll_preemption: true,
            udp_polls_do_not_refresh: true,
            no_seq_on_missing_sid: true,
            whole_batch_type_errors: true,
            single_ignores_bad_base64: true,
            // No deployed node keeps replies for retransmission (§7.10): caps bit 1 is seqtun's.
            no_replay_safe: true,
            ..Faults::default()
        };
        match self {
            Deployed::Node903 => Faults {
                bad_base64_keeps_seq: true,
                ..both
            },
            Deployed::NodeMain => Faults {
                no_caps: true,
                unordered_writes: true,
                unordered_drains: true,
                budget_gap: true,
                ..both
            },
        }
    }

    /// Turns `cfg` into this stand-in: its faults, and no seqtun-only limits. Timing is left
    /// alone, so a test can run a stand-in on short timings.
    pub fn apply(self, cfg: &mut NodeConfig) {
        cfg.legacy = false;
        cfg.faults = self.faults();
        let p = &mut cfg.params;
        p.seq_max_waiting = OUT_OF_REACH;
        p.max_batch_ops = OUT_OF_REACH;
        p.max_sessions = OUT_OF_REACH;
        p.read_buf_cap = OUT_OF_REACH;
        p.memory_budget = OUT_OF_REACH;
        // Deployed nodes keep a session whose connect reply was lost until the idle reaper.
        p.tcp_unclaimed_timeout = Duration::ZERO;
    }

    /// A stand-in with the deployed node's own defaults, long-poll included.
    pub fn config(self, key: impl Into<String>) -> NodeConfig {
        let mut cfg = NodeConfig::new(key);
        cfg.params.longpoll_deadline = self.longpoll();
        self.apply(&mut cfg);
        cfg
    }
}
