//! What an operator watching a node wants to know: is anyone connected, is it moving bytes,
//! how hard is it working, and is anything going wrong (wrong keys, seq waits, errors).
//!
//! The counters sit behind increment methods so the request path calls one method per event;
//! the one-off scans (live sessions by kind and dialect, bytes buffered) happen only when a
//! snapshot is taken: for the periodic stats line, `GET /stats` and `GET /metrics`.
//! Byte counts are payload bytes as the protocol carries them: decoded `d` of ops (up) and of
//! replies, `pkts` included (down).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seqtun_runtime::metrics::{Family, Kind};
use seqtun_runtime::rates::Rates;
use seqtun_wire::b64::decoded_len;
use seqtun_wire::{Op, OpKind, Reply};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use seqtun_runtime::conn::ConnSnapshot;

use crate::NodeState;
use crate::memory::MemorySnapshot;
use crate::table::Census;

/// How often the stats line is logged by default.
pub const STATS_INTERVAL: Duration = Duration::from_secs(60);

/// Op kinds as counted (their wire names); any other name counts as `unknown`.
pub const OP_KINDS: [&str; 7] = [
    "connect",
    "connect_data",
    "data",
    "close",
    "udp_open",
    "udp_data",
    "unknown",
];

fn kind_index(kind: OpKind<'_>) -> usize {
    match kind {
        OpKind::Connect => 0,
        OpKind::ConnectData => 1,
        OpKind::Data => 2,
        OpKind::Close => 3,
        OpKind::UdpOpen => 4,
        OpKind::UdpData => 5,
        OpKind::Unknown(_) => 6,
    }
}

/// An op's kind as counted: every unknown name is one kind.
fn counted(kind: OpKind<'_>) -> OpKind<'static> {
    OpKind::parse(OP_KINDS[kind_index(kind)])
}

/// Reply outcomes: bytes or datagrams, nothing yet, the session ended, an error.
pub const OUTCOMES: [&str; 4] = ["data", "empty", "eof", "error"];

/// The live counters of one node.
#[derive(Debug)]
pub struct NodeStats {
    started: Instant,
    batches: AtomicU64,
    single_ops: AtomicU64,
    ops: [AtomicU64; OP_KINDS.len()],
    replies: [AtomicU64; OUTCOMES.len()],
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    tcp_opened: AtomicU64,
    udp_opened: AtomicU64,
    seq_waits: AtomicU64,
    preemptions: AtomicU64,
    /// Batches, ops and bytes each way per second over the last minute, for `/stats`.
    rates: Rates<4>,
    unauthorized: AtomicU64,
    orphans_closed: AtomicU64,
}

impl Default for NodeStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            batches: AtomicU64::new(0),
            single_ops: AtomicU64::new(0),
            ops: Default::default(),
            replies: Default::default(),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            tcp_opened: AtomicU64::new(0),
            udp_opened: AtomicU64::new(0),
            seq_waits: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            orphans_closed: AtomicU64::new(0),
            rates: Rates::new(std::time::Instant::now()),
        }
    }
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl NodeStats {
    /// A batch arrived with a good key. Returns its ops' kinds, for [`NodeStats::replies`].
    pub fn batch(&self, ops: &[Op]) -> Vec<OpKind<'static>> {
        bump(&self.batches, 1);
        ops.iter().map(|op| self.op(op)).collect()
    }

    /// Sessions closed because the answer naming them was lost: the request ended before it, or
    /// no op named them within the unclaimed timeout (§5.1).
    pub fn orphans_closed(&self, n: usize) {
        bump(&self.orphans_closed, n as u64);
    }

    /// A single-op `/tunnel` request with a good key.
    pub fn single(&self, op: &Op) -> OpKind<'static> {
        bump(&self.single_ops, 1);
        self.op(op)
    }

    fn op(&self, op: &Op) -> OpKind<'static> {
        let kind = counted(op.kind());
        bump(&self.ops[kind_index(kind)], 1);
        bump(&self.bytes_up, op.uplink_bytes() as u64);
        kind
    }

    /// The replies of a batch (or the one of a single op), with the kinds of their ops.
    pub fn replies(&self, kinds: &[OpKind<'_>], replies: &[Reply]) {
        for (i, r) in replies.iter().enumerate() {
            let opened = r.e.is_none() && r.sid.is_some();
            match kinds.get(i).copied() {
                Some(OpKind::Connect | OpKind::ConnectData) if opened => bump(&self.tcp_opened, 1),
                Some(OpKind::UdpOpen) if opened => bump(&self.udp_opened, 1),
                _ => {}
            }
            let mut down = r.d.as_deref().map_or(0, decoded_len);
            down += r
                .pkts
                .iter()
                .flatten()
                .map(|p| decoded_len(p))
                .sum::<usize>();
            bump(&self.bytes_down, down as u64);
            let outcome = if r.e.is_some() {
                3
            } else if down > 0 {
                0
            } else if r.is_eof() {
                2
            } else {
                1
            };
            bump(&self.replies[outcome], 1);
        }
    }

    /// A seq'd op had to wait for a predecessor (§7.4).
    pub fn seq_wait(&self) {
        bump(&self.seq_waits, 1);
    }

    /// A parked poll answered early because a later seq of its session arrived (§7.7).
    pub fn preemption(&self) {
        bump(&self.preemptions, 1);
    }

    /// A request with a wrong or missing key.
    pub fn unauthorized(&self) {
        bump(&self.unauthorized, 1);
    }

    /// `snap`'s batches, ops and bytes per second over the last minute, as `/stats` JSON.
    pub fn rates_json(&self, snap: &NodeSnapshot) -> String {
        let counters = [
            snap.batches,
            snap.ops_total(),
            snap.bytes_up,
            snap.bytes_down,
        ];
        self.rates
            .read(std::time::Instant::now(), counters)
            .to_json(["batches", "ops", "bytes_up", "bytes_down"])
    }

    /// Every counter now, with the live sessions of `state`.
    pub fn snapshot(&self, state: &NodeState) -> NodeSnapshot {
        let by = |a: &[AtomicU64], names: &[&'static str]| {
            names.iter().zip(a).map(|(n, c)| (*n, get(c))).collect()
        };
        NodeSnapshot {
            uptime_secs: self.started.elapsed().as_secs(),
            mode: if state.cfg.legacy {
                "legacy"
            } else {
                "pipelined"
            },
            live: state.table.census(),
            tcp_opened: get(&self.tcp_opened),
            udp_opened: get(&self.udp_opened),
            bytes_up: get(&self.bytes_up),
            bytes_down: get(&self.bytes_down),
            batches: get(&self.batches),
            single_ops: get(&self.single_ops),
            ops: by(&self.ops, &OP_KINDS),
            replies: by(&self.replies, &OUTCOMES),
            seq_waits: get(&self.seq_waits),
            preemptions: get(&self.preemptions),
            unauthorized: get(&self.unauthorized),
            orphans_closed: get(&self.orphans_closed),
            memory: state.memory().snapshot(),
            connections: state.conns.snapshot(),
        }
    }
}

/// The node's counters at one moment: `GET /stats`, and the source of the stats line and
/// `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeSnapshot {
    pub uptime_secs: u64,
    pub mode: &'static str,
    /// Live sessions by kind and dialect, and the bytes they buffer.
    pub live: Census,
    pub tcp_opened: u64,
    pub udp_opened: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub batches: u64,
    pub single_ops: u64,
    pub ops: Vec<(&'static str, u64)>,
    pub replies: Vec<(&'static str, u64)>,
    pub seq_waits: u64,
    pub preemptions: u64,
    pub unauthorized: u64,
    /// Sessions closed because their request lost its answer (§5.1).
    pub orphans_closed: u64,
    /// The memory budget and what uses it (§5.6).
    pub memory: MemorySnapshot,
    /// The listener's connections: open, cap, timeouts and shedding.
    pub connections: ConnSnapshot,
}

impl NodeSnapshot {
    pub fn ops_total(&self) -> u64 {
        self.ops.iter().map(|(_, n)| n).sum()
    }

    pub fn replies_of(&self, outcome: &str) -> u64 {
        self.replies
            .iter()
            .find(|(o, _)| *o == outcome)
            .map_or(0, |(_, n)| *n)
    }

    /// The stats line: totals, and rates since `prev` taken `secs` seconds earlier.
    pub fn line(&self, prev: &NodeSnapshot, secs: f64) -> String {
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs.max(0.001);
        let l = &self.live;
        format!(
            "sessions {} live (tcp {} pipelined, {} legacy, {} new; udp {}), opened {} tcp / {} udp, up {} B, down {} B, buffered {} B, memory {} of {} B (peak {} B, {} bodies refused), connections {} of {} ({} shed, {} timed out), batches {:.1}/s, ops {:.1}/s, seq waits {}, preemptions {}, replies {} data / {} empty / {} eof / {} error, unauthorized {}",
            l.tcp_pipelined + l.tcp_legacy + l.tcp_new + l.udp,
            l.tcp_pipelined,
            l.tcp_legacy,
            l.tcp_new,
            l.udp,
            self.tcp_opened,
            self.udp_opened,
            self.bytes_up,
            self.bytes_down,
            l.buffered_bytes,
            self.memory.used,
            self.memory.budget,
            self.memory.peak,
            self.memory.refused_bodies,
            self.connections.open,
            self.connections.max,
            self.connections.shed,
            self.connections.header_timeouts
                + self.connections.idle_timeouts
                + self.connections.body_timeouts,
            rate(self.batches, prev.batches),
            rate(self.ops_total(), prev.ops_total()),
            self.seq_waits,
            self.preemptions,
            self.replies_of("data"),
            self.replies_of("empty"),
            self.replies_of("eof"),
            self.replies_of("error"),
            self.unauthorized,
        )
    }

    /// The `/stats` document, with `rates` ([`NodeStats::rates_json`]) under its name.
    pub fn to_json(&self, rates: &str) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["rates"] = serde_json::from_str(rates).unwrap_or_default();
        // Pairs read better as objects: {"data": 3, ...}.
        for key in ["ops", "replies"] {
            if let Some(pairs) = v.get(key).and_then(Value::as_array).cloned() {
                let obj: serde_json::Map<String, Value> = pairs
                    .iter()
                    .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.clone())))
                    .collect();
                v[key] = Value::Object(obj);
            }
        }
        v.to_string()
    }

    /// The `/metrics` families (prefix `seqtun_node_`).
    pub fn families(&self) -> Vec<Family> {
        let l = &self.live;
        let live = |kind: &str, dialect: &str, n: u64| {
            (
                vec![("kind", kind.to_string()), ("dialect", dialect.to_string())],
                n as f64,
            )
        };
        let labelled = |pairs: &[(&'static str, u64)], label: &'static str| {
            pairs
                .iter()
                .map(|(k, n)| (vec![(label, k.to_string())], *n as f64))
                .collect()
        };
        vec![
            Family::gauge(
                "uptime_seconds",
                "Seconds since the node started.",
                self.uptime_secs as f64,
            ),
            Family::labelled(
                "sessions_live",
                "Live sessions by kind and dialect (a TCP session's dialect is known from its first data op).",
                Kind::Gauge,
                vec![
                    live("tcp", "pipelined", l.tcp_pipelined),
                    live("tcp", "legacy", l.tcp_legacy),
                    live("tcp", "new", l.tcp_new),
                    live("udp", "-", l.udp),
                ],
            ),
            Family::gauge(
                "buffered_bytes",
                "Upstream bytes buffered for clients, all sessions.",
                l.buffered_bytes as f64,
            ),
            Family::labelled(
                "sessions_opened",
                "Sessions opened, by kind.",
                Kind::Counter,
                vec![
                    (vec![("kind", "tcp".into())], self.tcp_opened as f64),
                    (vec![("kind", "udp".into())], self.udp_opened as f64),
                ],
            ),
            Family::counter(
                "bytes_up",
                "Payload bytes from clients to upstreams.",
                self.bytes_up,
            ),
            Family::counter(
                "bytes_down",
                "Payload bytes from upstreams to clients.",
                self.bytes_down,
            ),
            Family::counter("batches", "Batches answered (good key).", self.batches),
            Family::counter(
                "single_ops",
                "Single-op /tunnel requests answered (good key).",
                self.single_ops,
            ),
            Family::labelled(
                "ops",
                "Ops by kind.",
                Kind::Counter,
                labelled(&self.ops, "op"),
            ),
            Family::labelled(
                "replies",
                "Replies by outcome.",
                Kind::Counter,
                labelled(&self.replies, "outcome"),
            ),
            Family::counter(
                "seq_waits",
                "Seq'd ops that waited for a predecessor.",
                self.seq_waits,
            ),
            Family::counter(
                "preemptions",
                "Parked polls answered early for a later seq.",
                self.preemptions,
            ),
            Family::counter(
                "unauthorized",
                "Requests with a wrong or missing key.",
                self.unauthorized,
            ),
            Family::counter(
                "orphans_closed",
                "Sessions closed because the answer naming them was lost: their request ended first, or no op named them within --unclaimed-secs.",
                self.orphans_closed,
            ),
            Family::gauge(
                "memory_budget_bytes",
                "The node-wide memory budget (--memory-budget-bytes).",
                self.memory.budget as f64,
            ),
            Family::labelled(
                "memory_used_bytes",
                "Bytes charged to the memory budget, by use.",
                Kind::Gauge,
                labelled(
                    &[
                        ("buffers", self.memory.buffers),
                        ("udp", self.memory.udp),
                        ("bodies", self.memory.bodies),
                        ("replies", self.memory.replies),
                        ("held", self.memory.held),
                    ],
                    "use",
                ),
            ),
            Family::gauge(
                "memory_peak_bytes",
                "Most bytes ever charged to the memory budget at once.",
                self.memory.peak as f64,
            ),
            Family::counter(
                "memory_refused_bodies",
                "Request bodies refused with 503 because the memory budget was spent.",
                self.memory.refused_bodies,
            ),
            Family::counter(
                "memory_paused_reads",
                "Times a session's upstream reads paused on a full budget or fair share.",
                self.memory.paused_reads,
            ),
            Family::counter(
                "memory_dropped_datagrams",
                "UDP datagrams dropped because the memory budget's buffer pool was full.",
                self.memory.dropped_datagrams,
            ),
            Family::gauge(
                "connections_open",
                "Open connections on the node's listener.",
                self.connections.open as f64,
            ),
            Family::gauge(
                "connections_max",
                "The connection cap (--max-connections).",
                self.connections.max as f64,
            ),
            Family::labelled(
                "connections_closed",
                "Connections the node closed, by reason.",
                Kind::Counter,
                labelled(
                    &[
                        ("header_timeout", self.connections.header_timeouts),
                        ("idle_timeout", self.connections.idle_timeouts),
                        ("body_timeout", self.connections.body_timeouts),
                        ("shed", self.connections.shed),
                        ("refused", self.connections.refused),
                    ],
                    "reason",
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_kinds_are_the_wire_names() {
        for name in &OP_KINDS[..6] {
            let kind = OpKind::parse(name);
            assert_eq!(kind.name(), *name);
            assert_eq!(counted(kind), kind);
        }
        assert_eq!(counted(OpKind::Unknown("frob")).name(), "unknown");
    }
}
