//! The modes every workload is compared in (issue: legacy, depth 2, 4, 8, no preemption).

use std::fmt;

use seqtun_client::ClientParams;
use seqtun_node::NodeConfig;

/// How client and node are set up for one column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Client `--depth 1` against `seqtun-node --legacy`: the deployed pre-#903 pair.
    Legacy,
    /// Pipelined at this depth against our node (poll preemption on).
    Depth(usize),
    /// Pipelined at the client's default depth against a node without poll preemption (§7.7),
    /// as a deployed PR #903 node behaves.
    NoPreemption,
    /// Pipelined at the client's default depth against a node as deployed PR #903 nodes are:
    /// `caps` 1, no poll preemption and no held replies (§7.10), so nothing is sent again.
    Plain903,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Mode; 5] = [
        Mode::Legacy,
        Mode::Depth(2),
        Mode::Depth(4),
        Mode::Depth(8),
        Mode::NoPreemption,
    ];

    /// The modes that differ from each other on a workload where the session is idle or keeps
    /// a single op out: depth cannot matter there, preemption can.
    pub const IDLE: [Mode; 3] = [Mode::Legacy, Mode::Depth(2), Mode::NoPreemption];

    /// The name used in bench ids and tables.
    pub fn name(self) -> String {
        match self {
            Mode::Legacy => "legacy".into(),
            Mode::Depth(d) => format!("depth{d}"),
            Mode::NoPreemption => "no-preemption".into(),
            Mode::Plain903 => "plain-903".into(),
        }
    }

    /// Sets the client's side of the mode.
    pub fn client(self, p: &mut ClientParams) {
        match self {
            Mode::Legacy => {
                p.depth = 1;
                p.no_pipelining = true;
            }
            Mode::Depth(d) => p.depth = d,
            Mode::NoPreemption | Mode::Plain903 => {}
        }
    }

    /// Sets the in-process node's side of the mode.
    pub fn node(self, cfg: &mut NodeConfig) {
        match self {
            Mode::Legacy => cfg.legacy = true,
            Mode::Depth(_) => {}
            Mode::NoPreemption => cfg.faults.no_poll_preemption = true,
            Mode::Plain903 => {
                cfg.faults.no_poll_preemption = true;
                cfg.params.replay_max_held = 0;
            }
        }
    }

    /// True when the mode needs a node setting an external node cannot be given.
    pub fn needs_node_setting(self) -> bool {
        matches!(self, Mode::NoPreemption | Mode::Plain903)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
