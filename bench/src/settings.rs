//! What a bench run is set to, from the environment, and the time scaling of node constants.
//!
//! A field relay round trip is about 1.5 s; a bench that waited that long per call would run
//! for hours. So the bench relay is faster (R = 200 ms by default) and the node's timing
//! constants that are measured in relay round trips (long-poll, active drain deadline, settle
//! limit, seq wait) shrink by the same factor R / 1.5 s, so every workload keeps the field's
//! proportions: a long-poll still lasts ten round trips. Client constants (coalescing, the read
//! ladder) are not scaled: they are the client's own, and the benches measure them as they are.

use std::time::Duration;

use seqtun_wire::params::{
    ACTIVE_DRAIN_DEADLINE, LONGPOLL_DEADLINE, NodeParams, SEQ_WAIT_TIMEOUT, STRAGGLER_SETTLE_MAX,
};

/// The relay round trip the node's defaults were chosen for (field notes: 1.5–2.5 s).
pub const FIELD_RELAY_RTT: Duration = Duration::from_millis(1500);
/// Default bench relay round trip.
pub const DEFAULT_RELAY_RTT: Duration = Duration::from_millis(200);
/// Key of the in-process node (and the relay's node key).
pub const NODE_KEY: &str = "bench-node-key";
/// Key clients send to the relay.
pub const RELAY_KEY: &str = "bench-relay-key";

/// Why the environment is unusable; each names the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{var}={value:?} is not a whole number of milliseconds")]
    NotANumber { var: &'static str, value: String },
    #[error(
        "SEQTUN_BENCH_NODE_URL is set but SEQTUN_BENCH_NODE_KEY is not: give the key the node was started with"
    )]
    MissingKey,
    #[error(
        "SEQTUN_BENCH_NODE_URL={0:?}: give the node's base URL, e.g. http://127.0.0.1:8080 (plain http, no path)"
    )]
    BadUrl(String),
}

/// How large the workloads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// `cargo bench`: the sizes of bench/README.md's tables.
    Full,
    /// `SEQTUN_BENCH_QUICK=1`: a look in under three minutes.
    Quick,
    /// The smoke test: every workload once, as small as it can be and still do its thing.
    Smoke,
}

/// An external node under test (`SEQTUN_BENCH_NODE_URL`, `SEQTUN_BENCH_NODE_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalNode {
    pub url: String,
    pub key: String,
    /// Its process id, for CPU time (`SEQTUN_BENCH_NODE_PID`); else found from its port.
    pub pid: Option<u32>,
}

/// Settings of one bench run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Relay round trip R (`SEQTUN_BENCH_RTT_MS`).
    pub rtt: Duration,
    /// Random extra latency per call (`SEQTUN_BENCH_JITTER_MS`, default 0).
    pub jitter: Duration,
    /// How large the workloads are: full, quick (`SEQTUN_BENCH_QUICK=1`) or the smoke test's.
    pub sizes: Sizes,
    /// The node under test, when not the in-process one.
    pub external: Option<ExternalNode>,
}

impl Settings {
    /// Reads the `SEQTUN_BENCH_*` variables.
    pub fn from_env() -> Result<Self, SettingsError> {
        let ms = |var: &'static str, default: Duration| match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| SettingsError::NotANumber { var, value: v }),
            _ => Ok(default),
        };
        let quick = std::env::var("SEQTUN_BENCH_QUICK")
            .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"));
        let sizes = if quick { Sizes::Quick } else { Sizes::Full };
        let external = match std::env::var("SEQTUN_BENCH_NODE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let url = url.trim().trim_end_matches('/').to_owned();
                if !url.starts_with("http://") || url["http://".len()..].contains('/') {
                    return Err(SettingsError::BadUrl(url));
                }
                let key = std::env::var("SEQTUN_BENCH_NODE_KEY")
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or(SettingsError::MissingKey)?;
                let pid = std::env::var("SEQTUN_BENCH_NODE_PID")
                    .ok()
                    .and_then(|p| p.trim().parse().ok());
                Some(ExternalNode { url, key, pid })
            }
            _ => None,
        };
        Ok(Self {
            rtt: ms("SEQTUN_BENCH_RTT_MS", DEFAULT_RELAY_RTT)?,
            jitter: ms("SEQTUN_BENCH_JITTER_MS", Duration::ZERO)?,
            sizes,
            external,
        })
    }

    /// The field proportions at this R.
    pub fn timing(&self) -> NodeTiming {
        NodeTiming::scaled(self.rtt)
    }

    /// The settings line every bench prints once.
    pub fn describe(&self) -> String {
        let t = self.timing();
        let node = match &self.external {
            Some(ext) => format!(
                "external node {} (its own settings; for the bench's proportions start it with {})",
                ext.url,
                t.node_flags().join(" ")
            ),
            None => "in-process seqtun-node".into(),
        };
        format!(
            "seqtun-bench: R = {} ms (jitter {} ms); time scale {:.3} of a {} ms field relay: \
             long-poll {} ms, active drain {} ms, settle max {} ms, seq wait {} ms; node under \
             test: {node}{}",
            self.rtt.as_millis(),
            self.jitter.as_millis(),
            t.scale,
            FIELD_RELAY_RTT.as_millis(),
            t.longpoll.as_millis(),
            t.active_drain.as_millis(),
            t.settle_max.as_millis(),
            t.seq_wait.as_millis(),
            match self.sizes {
                Sizes::Full => "",
                Sizes::Quick =>
                    "; QUICK run (small sizes, 3 runs per mode and no warm-up, no criterion statistics)",
                Sizes::Smoke => "; SMOKE test (tiny sizes)",
            }
        )
    }

    /// What a table says about its node.
    pub fn node_line(&self, setup: crate::node::NodeSetup) -> String {
        let t = self.timing();
        match &self.external {
            Some(ext) => format!("Node under test: external, {} (its own settings).", ext.url),
            None => format!(
                "Node under test: in-process seqtun-node, long-poll {} ms, active drain {} ms, \
                 settle max {} ms, seq wait {} ms (scale {:.3}), drain cap {}.",
                t.longpoll.as_millis(),
                t.active_drain.as_millis(),
                t.settle_max.as_millis(),
                t.seq_wait.as_millis(),
                t.scale,
                setup
                    .drain_max
                    .map_or("16 MiB (default)".into(), |b| format!("{} KiB", b >> 10)),
            ),
        }
    }
}

/// Node constants scaled with R.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeTiming {
    /// R / 1.5 s.
    pub scale: f64,
    pub longpoll: Duration,
    pub active_drain: Duration,
    pub settle_max: Duration,
    pub seq_wait: Duration,
}

impl NodeTiming {
    /// The node's defaults times `rtt / FIELD_RELAY_RTT`, never below 1 ms.
    pub fn scaled(rtt: Duration) -> Self {
        let scale = rtt.as_secs_f64() / FIELD_RELAY_RTT.as_secs_f64();
        let s = |d: Duration| d.mul_f64(scale).max(Duration::from_millis(1));
        Self {
            scale,
            longpoll: s(LONGPOLL_DEADLINE),
            active_drain: s(ACTIVE_DRAIN_DEADLINE),
            settle_max: s(STRAGGLER_SETTLE_MAX),
            seq_wait: s(SEQ_WAIT_TIMEOUT),
        }
    }

    /// Applies the scaled constants to a node's limits.
    pub fn apply(&self, p: &mut NodeParams) {
        p.longpoll_deadline = self.longpoll;
        p.active_drain_deadline = self.active_drain;
        p.settle_max = self.settle_max;
        p.seq_wait_timeout = self.seq_wait;
    }

    /// The same as `seqtun-node` flags, for starting an external node with the bench's
    /// proportions.
    pub fn node_flags(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_millis().to_string();
        [
            ("--longpoll-ms", ms(self.longpoll)),
            ("--active-drain-ms", ms(self.active_drain)),
            ("--settle-max-ms", ms(self.settle_max)),
            ("--seq-wait-ms", ms(self.seq_wait)),
        ]
        .into_iter()
        .flat_map(|(flag, v)| [flag.to_owned(), v])
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_ms_relay_keeps_the_field_proportions() {
        let t = NodeTiming::scaled(Duration::from_millis(200));
        assert!((t.scale - 0.1333).abs() < 1e-3);
        assert_eq!(t.longpoll, Duration::from_secs(2));
        assert_eq!(t.seq_wait, Duration::from_secs(4));
        assert_eq!(t.active_drain.as_millis(), 46);
        assert_eq!(t.settle_max.as_millis(), 133);
        assert_eq!(
            t.node_flags()[..4],
            ["--longpoll-ms", "2000", "--active-drain-ms", "46"]
        );
        let field = NodeTiming::scaled(FIELD_RELAY_RTT);
        assert_eq!(field.longpoll, LONGPOLL_DEADLINE);
        let zero = NodeTiming::scaled(Duration::ZERO);
        assert_eq!(zero.longpoll, Duration::from_millis(1), "never zero");
    }
}
