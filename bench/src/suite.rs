//! The tables of bench/README.md: which workload, in which regime, in which modes, against
//! which model. Sizes are chosen so the full run fits 20 minutes on two cores; the quick run
//! (`SEQTUN_BENCH_QUICK=1`) divides them.

use std::time::Duration;

use crate::mode::Mode;
use crate::model::Model;
use crate::node::NodeSetup;
use crate::report::{Table, ms};
use crate::settings::{Settings, Sizes};
use crate::stack::Hop;
use crate::workload::Workload;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The reply cap of the reply-capped regime (`--drain-max-bytes 262144`).
pub const CAPPED_REPLY: u64 = 256 * KIB;
/// The relay's per-call rate in the bandwidth-limited regime, kbit/s (50 MB/s).
pub const BANDWIDTH_KBPS: u64 = 400_000;
/// The largest `data` op (client default), for the upload model.
pub const OP_BYTES: u64 = 1 << 20;

/// One table to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub title: String,
    pub workload: Workload,
    pub modes: Vec<Mode>,
    pub hop: Hop,
    pub node: NodeSetup,
    pub model: Model,
    pub notes: Vec<String>,
}

impl Plan {
    /// The empty table this plan fills.
    pub fn table(&self, settings: &Settings) -> Table {
        let mut t = Table::new(&self.id, &self.title, self.workload, self.model);
        t.notes = self.notes.clone();
        t.notes.push(settings.node_line(self.node));
        t
    }
}

/// A size by run kind: full, quick, smoke.
fn size(settings: &Settings, full: u64, quick: u64, smoke: u64) -> u64 {
    match settings.sizes {
        Sizes::Full => full,
        Sizes::Quick => quick,
        Sizes::Smoke => smoke,
    }
}

/// The transfer tables of `benches/tunnel.rs`.
pub fn tunnel(s: &Settings) -> Vec<Plan> {
    let r = s.rtt;
    let relay = |bandwidth_kbps| Hop::Relay {
        latency: r,
        bandwidth_kbps,
        drop_reply_permille: 0,
    };
    let capped = NodeSetup {
        drain_max: Some(CAPPED_REPLY as usize),
    };
    let pipelined = vec![Mode::Legacy, Mode::Depth(2), Mode::Depth(4), Mode::Depth(8)];
    let window = 64 * KIB;
    // Idle past the long-poll deadline, then anywhere in one cycle of the idle poll (its
    // long-poll, the relay's round trip and the read ladder's 500 ms wait).
    let idle = s.timing().longpoll.mul_f64(1.25);
    let cycle = s.timing().longpoll + r + Duration::from_millis(500);
    let many = size(s, 32, 32, 8) as usize;
    vec![
        Plan {
            id: "bulk_down-capped".into(),
            title: "bulk_down, reply-capped (node drain cap B = 256 KiB)".into(),
            workload: Workload::BulkDown {
                size: size(s, 8 * MIB, 2 * MIB, 256 * KIB),
            },
            modes: pipelined.clone(),
            hop: relay(0),
            node: capped,
            model: Model::RepliesPerTrip {
                reply: CAPPED_REPLY,
                rtt: r,
            },
            notes: vec![format!("Relay latency R = {}, no bandwidth limit.", ms(r))],
        },
        Plan {
            id: "bulk_down-capped-latency0".into(),
            title: "bulk_down, reply-capped, relay latency 0 (the per-round overhead)".into(),
            workload: Workload::BulkDown {
                size: size(s, 8 * MIB, 2 * MIB, 256 * KIB),
            },
            modes: pipelined.clone(),
            hop: relay(0),
            node: capped,
            model: Model::RepliesPerTrip {
                reply: CAPPED_REPLY,
                rtt: Duration::ZERO,
            },
            notes: vec!["Relay latency 0: what is left of a round is overhead.".into()],
        }
        .with_latency(Duration::ZERO),
        Plan {
            id: "bulk_down-bandwidth".into(),
            title: "bulk_down, bandwidth-limited (relay 400 Mbit/s per call, default drain cap)"
                .into(),
            workload: Workload::BulkDown {
                size: size(s, 48 * MIB, 8 * MIB, 256 * KIB),
            },
            modes: pipelined.clone(),
            hop: relay(BANDWIDTH_KBPS),
            node: NodeSetup::default(),
            model: Model::CallBandwidth {
                kbps: BANDWIDTH_KBPS,
            },
            notes: vec![format!(
                "Relay latency R = {} plus each call's request and reply bytes at {} kbit/s.",
                ms(r),
                BANDWIDTH_KBPS
            )],
        },
        Plan {
            id: "bulk_up".into(),
            title: "bulk_up (the app sends to a sink)".into(),
            workload: Workload::BulkUp {
                size: size(s, 8 * MIB, 2 * MIB, 256 * KIB),
            },
            modes: pipelined,
            hop: relay(0),
            node: NodeSetup::default(),
            model: Model::Uploads {
                op: OP_BYTES,
                rtt: r,
                hold: s.timing().active_drain,
            },
            notes: vec![format!("Relay latency R = {}.", ms(r))],
        },
        Plan {
            id: "windowed".into(),
            title: "windowed (64 KiB window, one-byte ack)".into(),
            workload: Workload::Windowed {
                size: size(s, 512 * KIB, 256 * KIB, 128 * KIB),
                window,
            },
            modes: Mode::ALL.to_vec(),
            hop: relay(0),
            node: NodeSetup::default(),
            model: Model::WindowPerTrip {
                window,
                rtt: r,
                sessions: 1,
            },
            notes: vec![format!("Relay latency R = {}.", ms(r))],
        },
        Plan {
            id: "rpc_after_idle".into(),
            title: format!(
                "rpc_after_idle (idle {} to {}: past the long-poll deadline, at a different phase \
                 of the idle poll's cycle each run; then 16 bytes each way)",
                ms(idle),
                ms(idle + cycle)
            ),
            workload: Workload::RpcAfterIdle {
                idle,
                spread: cycle,
            },
            modes: Mode::IDLE.to_vec(),
            hop: relay(0),
            node: NodeSetup::default(),
            model: Model::Latency { rtt: r },
            notes: vec![
                "Depth 4 and 8 are not run: an idle session keeps one poll whatever its depth."
                    .into(),
            ],
        },
        Plan {
            id: "many_sessions".into(),
            title: format!("many_sessions ({many} windowed sessions at once, 64 KiB windows)"),
            workload: Workload::ManySessions {
                sessions: many,
                size: size(s, 256 * KIB, 128 * KIB, 128 * KIB),
                window,
            },
            modes: Mode::ALL.to_vec(),
            hop: relay(0),
            node: NodeSetup::default(),
            model: Model::WindowPerTrip {
                window,
                rtt: r,
                sessions: many,
            },
            notes: vec![format!("Relay latency R = {}.", ms(r))],
        },
    ]
}

/// The table of `benches/node_capacity.rs`.
pub fn capacity(s: &Settings) -> Vec<Plan> {
    let sessions = size(s, 64, 64, 16) as usize;
    vec![Plan {
        id: "node_capacity".into(),
        title: format!(
            "node_capacity ({sessions} bulk downloads at once, client straight at the node)"
        ),
        workload: Workload::Capacity {
            sessions,
            size: size(s, 4 * MIB, MIB, 64 * KIB),
        },
        modes: vec![Mode::Legacy, Mode::Depth(2), Mode::Depth(4)],
        hop: Hop::Direct,
        node: NodeSetup::default(),
        model: Model::None,
        notes: vec![format!(
            "No relay (latency 0). The node runs on its own {}-thread runtime; its CPU time is \
             read from its threads (or from an external node's process).",
            crate::node::NODE_WORKERS
        )],
    }]
}

impl Plan {
    fn with_latency(mut self, latency: Duration) -> Self {
        if let Hop::Relay {
            bandwidth_kbps,
            drop_reply_permille,
            ..
        } = self.hop
        {
            self.hop = Hop::Relay {
                latency,
                bandwidth_kbps,
                drop_reply_permille,
            };
        }
        self
    }
}

/// Relay calls in a thousand whose reply the goodput table's relay loses (5 %).
pub const DROP_REPLY_PERMILLE: u32 = 50;

/// The goodput table of `benches/faults.rs` (issue 14): a 64 MiB download in the reply-capped
/// regime through a relay that loses 5 % of replies, replay-safe against a plain #903 node.
/// A run gives up at twice the time the model needs for the whole download, at least 5 s.
pub fn faults(s: &Settings) -> Vec<Plan> {
    let r = s.rtt;
    let size = size(s, 64 * MIB, 8 * MIB, 256 * KIB);
    let model = Model::RepliesPerTrip {
        reply: CAPPED_REPLY,
        rtt: r,
    };
    let best = model.limit(Mode::Depth(2)).map_or(Duration::ZERO, |rate| {
        Duration::from_secs_f64(size as f64 / rate)
    });
    let give_up = (best * 2).max(Duration::from_secs(5));
    vec![Plan {
        id: "goodput-drop_reply".into(),
        title: format!(
            "goodput, {} download, 5 % of replies lost (reply-capped, B = 256 KiB)",
            if size >= MIB {
                format!("{} MiB", size / MIB)
            } else {
                format!("{} KiB", size / KIB)
            }
        ),
        workload: Workload::Goodput { size, give_up },
        modes: vec![Mode::Depth(2), Mode::Plain903],
        hop: Hop::Relay {
            latency: r,
            bandwidth_kbps: 0,
            drop_reply_permille: DROP_REPLY_PERMILLE,
        },
        node: NodeSetup {
            drain_max: Some(CAPPED_REPLY as usize),
        },
        model,
        notes: vec![
            format!(
                "Relay latency R = {}; the relay loses the reply of 5 % of calls after the node \
                 ran them (seeded `drop_reply`, the same draws for both modes).",
                ms(r)
            ),
            format!(
                "depth2: our node, `caps` 7, so lost replies are sent again (§7.10). plain-903: \
                 `caps` 1 (no held replies, no preemption), so a lost reply ends the session and \
                 the app starts the download again from zero. A run gives up after {} (twice \
                 the model's time for the whole download).",
                ms(give_up)
            ),
        ],
    }]
}
