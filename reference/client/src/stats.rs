//! Counters for the periodic stats line, `/stats` and `/metrics` (behind `--metrics`),
//! readable by tests through [`Stats::snapshot`].
//!
//! Users judge a tunnel by "is it moving and how slow is the relay"; the line answers both
//! without a debugger: sessions, bytes each way, batches, relay round trip p50/p95, and how many
//! sessions pipelined.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seqtun_runtime::metrics::{Family, Kind};
use seqtun_runtime::rates::Rates;
use seqtun_wire::client::replies::OpResult;

/// Round-trip samples kept for the percentiles.
pub const RTT_SAMPLES: usize = 1024;

/// Live counters of one client.
#[derive(Debug, Default)]
pub struct Stats {
    pub active_sessions: AtomicU64,
    pub sessions: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    pub batches: AtomicU64,
    pub failed_batches: AtomicU64,
    /// Requests the node refused as too large (413) and that were repacked (§6.3).
    pub refused_batches: AtomicU64,
    /// The largest request body a relay answered.
    pub largest_body: AtomicU64,
    pub pipelined_sessions: AtomicU64,
    pub legacy_sessions: AtomicU64,
    pub downgrades: AtomicU64,
    /// Batches sent and not yet answered.
    pub inflight_batches: AtomicU64,
    /// Ops carried by batches.
    pub ops: AtomicU64,
    /// Sessions the node (or the path) refused.
    pub open_failures: AtomicU64,
    pub socks5_sessions: AtomicU64,
    pub http_sessions: AtomicU64,
    pub plain_sessions: AtomicU64,
    /// Replies handed to sessions, by outcome ([`OUTCOMES`]).
    replies: [AtomicU64; OUTCOMES.len()],
    /// Reply bytes (decoded) the sessions hold until an earlier seq's reply arrives.
    pub held_bytes: AtomicU64,
    rtts: Mutex<VecDeque<Duration>>,
    /// Batches, ops and bytes each way per second over the last minute, for `/stats`.
    rates: Rates<4>,
}

/// Reply outcomes: bytes, nothing yet, the session ended, a node error, and a failed batch
/// (no reply at all).
pub const OUTCOMES: [&str; 5] = ["data", "empty", "eof", "error", "failed"];

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub active_sessions: u64,
    pub sessions: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub batches: u64,
    pub failed_batches: u64,
    pub refused_batches: u64,
    pub largest_body: u64,
    pub pipelined_sessions: u64,
    pub legacy_sessions: u64,
    pub downgrades: u64,
    pub inflight_batches: u64,
    pub ops: u64,
    pub open_failures: u64,
    pub socks5_sessions: u64,
    pub http_sessions: u64,
    pub plain_sessions: u64,
    /// Replies by outcome, in [`OUTCOMES`] order.
    #[serde(serialize_with = "as_outcomes")]
    pub replies: [u64; OUTCOMES.len()],
    pub held_bytes: u64,
    #[serde(serialize_with = "as_ms")]
    pub rtt_p50: Option<Duration>,
    #[serde(serialize_with = "as_ms")]
    pub rtt_p95: Option<Duration>,
}

fn as_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

fn as_outcomes<S: serde::Serializer>(r: &[u64; OUTCOMES.len()], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let mut m = s.serialize_map(Some(r.len()))?;
    for (name, n) in OUTCOMES.iter().zip(r) {
        m.serialize_entry(name, n)?;
    }
    m.end()
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn sub(counter: &AtomicU64, n: u64) {
    counter.fetch_sub(n, Ordering::Relaxed);
}

impl Stats {
    /// A session was accepted on `front`.
    pub fn front_session(&self, front: crate::front::Front) {
        match front {
            crate::front::Front::Socks5 => add(&self.socks5_sessions, 1),
            crate::front::Front::Http => add(&self.http_sessions, 1),
            crate::front::Front::Plain => add(&self.plain_sessions, 1),
        }
    }

    /// One op's answer as its session gets it, classified as the node classifies its replies
    /// (bytes win over `eof`, so a final drain counts as data).
    pub fn reply(&self, result: &OpResult) {
        let outcome = match result {
            Err(_) => 4,
            Ok(r) if r.e.is_some() => 3,
            Ok(r) if r.d.as_deref().is_some_and(|d| !d.is_empty()) || r.pkts.is_some() => 0,
            Ok(r) if r.eof == Some(true) => 2,
            Ok(_) => 1,
        };
        add(&self.replies[outcome], 1);
    }

    /// `snap`'s batches, ops and bytes per second over the last minute, as `/stats` JSON.
    pub fn rates_json(&self, snap: &Snapshot) -> String {
        let counters = [snap.batches, snap.ops, snap.bytes_up, snap.bytes_down];
        self.rates
            .read(std::time::Instant::now(), counters)
            .to_json(["batches", "ops", "bytes_up", "bytes_down"])
    }

    /// A session could not be opened.
    pub fn open_failed(&self) {
        add(&self.open_failures, 1);
    }

    /// Records one batch round trip.
    pub fn record_rtt(&self, rtt: Duration) {
        let mut r = self.rtts.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == RTT_SAMPLES {
            r.pop_front();
        }
        r.push_back(rtt);
    }

    fn percentiles(&self) -> (Option<Duration>, Option<Duration>) {
        let mut v: Vec<Duration> = self
            .rtts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        v.sort_unstable();
        (nearest_rank(&v, 50), nearest_rank(&v, 95))
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (rtt_p50, rtt_p95) = self.percentiles();
        Snapshot {
            active_sessions: get(&self.active_sessions),
            sessions: get(&self.sessions),
            bytes_up: get(&self.bytes_up),
            bytes_down: get(&self.bytes_down),
            batches: get(&self.batches),
            failed_batches: get(&self.failed_batches),
            refused_batches: get(&self.refused_batches),
            largest_body: get(&self.largest_body),
            pipelined_sessions: get(&self.pipelined_sessions),
            legacy_sessions: get(&self.legacy_sessions),
            downgrades: get(&self.downgrades),
            inflight_batches: get(&self.inflight_batches),
            ops: get(&self.ops),
            open_failures: get(&self.open_failures),
            socks5_sessions: get(&self.socks5_sessions),
            http_sessions: get(&self.http_sessions),
            plain_sessions: get(&self.plain_sessions),
            replies: std::array::from_fn(|i| get(&self.replies[i])),
            held_bytes: get(&self.held_bytes),
            rtt_p50,
            rtt_p95,
        }
    }
}

/// The `pct` percentile of sorted samples (nearest rank).
fn nearest_rank(sorted: &[Duration], pct: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl Snapshot {
    /// The `/stats` document, round trips in ms, with `rates` ([`Stats::rates_json`]) under
    /// its name.
    pub fn to_json(&self, rates: &str) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["rates"] = serde_json::from_str(rates).unwrap_or_default();
        v.to_string()
    }

    /// The stats line: [`Snapshot`]'s text, with batches and ops per second since `prev`, taken
    /// `secs` seconds earlier.
    pub fn line(&self, prev: &Snapshot, secs: f64) -> String {
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs.max(0.001);
        format!(
            "{self}, {:.1} batches/s, {:.1} ops/s",
            rate(self.batches, prev.batches),
            rate(self.ops, prev.ops)
        )
    }

    /// The `/metrics` families (prefix `seqtun_client_`).
    pub fn families(&self) -> Vec<Family> {
        let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
        vec![
            Family::gauge(
                "sessions_active",
                "Local connections tunnelled now.",
                self.active_sessions as f64,
            ),
            Family::labelled(
                "sessions",
                "Local connections accepted, by front end.",
                Kind::Counter,
                vec![
                    (
                        vec![("front", "socks5".into())],
                        self.socks5_sessions as f64,
                    ),
                    (vec![("front", "http".into())], self.http_sessions as f64),
                    (
                        vec![("front", "http-plain".into())],
                        self.plain_sessions as f64,
                    ),
                ],
            ),
            Family::labelled(
                "sessions_opened",
                "Sessions the node opened, by dialect.",
                Kind::Counter,
                vec![
                    (
                        vec![("dialect", "pipelined".into())],
                        self.pipelined_sessions as f64,
                    ),
                    (
                        vec![("dialect", "legacy".into())],
                        self.legacy_sessions as f64,
                    ),
                ],
            ),
            Family::counter(
                "open_failures",
                "Sessions the node or the relay path refused.",
                self.open_failures,
            ),
            Family::counter(
                "bytes_up",
                "App bytes sent towards the node.",
                self.bytes_up,
            ),
            Family::counter("bytes_down", "Bytes written to apps.", self.bytes_down),
            Family::counter("batches", "Batches answered or failed.", self.batches),
            Family::counter(
                "failed_batches",
                "Batches that failed (transport, timeout, bad reply).",
                self.failed_batches,
            ),
            Family::gauge(
                "inflight_batches",
                "Batches sent and not yet answered.",
                self.inflight_batches as f64,
            ),
            Family::counter("ops", "Ops carried by batches.", self.ops),
            Family::labelled(
                "replies",
                "Replies handed to sessions, by outcome (failed: the batch failed, no reply).",
                Kind::Counter,
                OUTCOMES
                    .iter()
                    .zip(self.replies)
                    .map(|(o, n)| (vec![("outcome", o.to_string())], n as f64))
                    .collect(),
            ),
            Family::gauge(
                "held_bytes",
                "Reply bytes held until an earlier seq's reply arrives.",
                self.held_bytes as f64,
            ),
            Family::counter(
                "downgrades",
                "Pipelined replies without seq (pipelining switched off).",
                self.downgrades,
            ),
            Family::labelled(
                "relay_rtt_seconds",
                "Relay round trip over the last samples, by quantile (NaN before the first).",
                Kind::Gauge,
                vec![
                    (vec![("quantile", "0.5".into())], ms(self.rtt_p50)),
                    (vec![("quantile", "0.95".into())], ms(self.rtt_p95)),
                ],
            ),
        ]
    }
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms =
            |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{}ms", d.as_millis()));
        write!(
            f,
            "sessions {} active ({} total; {} pipelined, {} legacy, {} refused), up {} B, down {} B, held {} B, batches {} ({} failed, {} refused as too large, {} in flight), ops {}, replies {} data / {} empty / {} eof / {} error / {} failed, relay rtt p50 {} p95 {}, downgrades {}",
            self.active_sessions,
            self.sessions,
            self.pipelined_sessions,
            self.legacy_sessions,
            self.open_failures,
            self.bytes_up,
            self.bytes_down,
            self.held_bytes,
            self.batches,
            self.failed_batches,
            self.refused_batches,
            self.inflight_batches,
            self.ops,
            self.replies[0],
            self.replies[1],
            self.replies[2],
            self.replies[3],
            self.replies[4],
            ms(self.rtt_p50),
            ms(self.rtt_p95),
            self.downgrades
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = Stats::default();
        assert_eq!(s.snapshot().rtt_p50, None);
        for ms in 1..=100 {
            s.record_rtt(Duration::from_millis(ms));
        }
        let snap = s.snapshot();
        assert_eq!(snap.rtt_p50, Some(Duration::from_millis(50)));
        assert_eq!(snap.rtt_p95, Some(Duration::from_millis(95)));
        assert!(snap.to_string().contains("p50 50ms p95 95ms"), "{snap}");
    }

    #[test]
    fn only_the_last_samples_count() {
        let s = Stats::default();
        for _ in 0..RTT_SAMPLES {
            s.record_rtt(Duration::from_secs(9));
        }
        s.record_rtt(Duration::from_millis(1));
        assert_eq!(s.rtts.lock().unwrap().len(), RTT_SAMPLES);
    }
}
