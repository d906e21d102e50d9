//! Counters: what the relay saw and what it did to it.
//!
//! Benches turn these into "relay calls per MB" and "quota burnt per idle session-hour" (the
//! costs field users pay), and fault tests use them to check that a fault was really injected
//! rather than inferring it from the client side alone.

use std::collections::BTreeMap;
use std::sync::Mutex;

use seqtun_runtime::metrics::{Family, Kind};
use serde::Serialize;

use crate::lock;

/// Counters of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeploymentStats {
    /// Requests to the exec URL (POST and GET).
    pub calls: u64,
    /// POSTs the node received from this deployment (`UrlFetchApp` calls).
    pub node_fetches: u64,
    /// Request body bytes from clients.
    pub bytes_in: u64,
    /// Response body bytes to clients (one-time redirect GETs included).
    pub bytes_out: u64,
    pub bytes_to_node: u64,
    pub bytes_from_node: u64,
    /// Calls running right now.
    pub in_flight: u64,
    /// Calls a `hold_back` fault is holding right now.
    pub held: u64,
    /// Calls refused over the concurrent-execution limit.
    pub over_concurrency: u64,
    /// Fetches refused because the day's quota was spent.
    pub over_quota: u64,
    /// Replies cut at the response size cap.
    pub truncated: u64,
    /// Node answers other than HTTP 200 (a wrong node key or path gets 404).
    pub node_http_errors: u64,
}

/// Everything, as served on `GET /stats` and printed on exit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub seed: u64,
    pub calls: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Injected faults by kind (`pass` is not a fault and is not counted).
    pub faults: BTreeMap<String, u64>,
    pub deployments: BTreeMap<String, DeploymentStats>,
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Mutex::new(StatsSnapshot {
                seed,
                ..StatsSnapshot::default()
            }),
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        lock(&self.inner).clone()
    }

    /// Changes one deployment's counters.
    pub fn with(&self, deployment: &str, f: impl FnOnce(&mut DeploymentStats)) {
        let mut s = lock(&self.inner);
        let before = s.deployments.get(deployment).cloned().unwrap_or_default();
        let mut after = before.clone();
        f(&mut after);
        s.calls += after.calls - before.calls;
        s.bytes_in += after.bytes_in - before.bytes_in;
        s.bytes_out += after.bytes_out - before.bytes_out;
        s.deployments.insert(deployment.to_owned(), after);
    }

    pub fn fault(&self, kind: &str) {
        *lock(&self.inner).faults.entry(kind.to_owned()).or_default() += 1;
    }
}

impl StatsSnapshot {
    /// Pretty JSON, for the exit summary.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"e\":\"{e}\"}}"))
    }

    pub fn deployment(&self, id: &str) -> DeploymentStats {
        self.deployments.get(id).cloned().unwrap_or_default()
    }

    pub fn fault(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// The `/metrics` families (prefix `seqtun_relay_`), per deployment where the counter is.
    pub fn families(&self) -> Vec<Family> {
        type Field = fn(&DeploymentStats) -> u64;
        let per: [(&'static str, &'static str, Kind, Field); 11] = [
            (
                "calls",
                "Requests to a deployment's exec URL.",
                Kind::Counter,
                |d| d.calls,
            ),
            (
                "node_fetches",
                "Node fetches (UrlFetchApp calls, the daily quota).",
                Kind::Counter,
                |d| d.node_fetches,
            ),
            (
                "bytes_in",
                "Request body bytes from clients.",
                Kind::Counter,
                |d| d.bytes_in,
            ),
            (
                "bytes_out",
                "Response body bytes to clients.",
                Kind::Counter,
                |d| d.bytes_out,
            ),
            (
                "bytes_to_node",
                "Request body bytes sent to the node.",
                Kind::Counter,
                |d| d.bytes_to_node,
            ),
            (
                "bytes_from_node",
                "Response body bytes read from the node.",
                Kind::Counter,
                |d| d.bytes_from_node,
            ),
            ("in_flight", "Calls running now.", Kind::Gauge, |d| {
                d.in_flight
            }),
            (
                "held",
                "Calls a hold_back fault holds now.",
                Kind::Gauge,
                |d| d.held,
            ),
            (
                "over_concurrency",
                "Calls refused over the concurrent-execution limit.",
                Kind::Counter,
                |d| d.over_concurrency,
            ),
            (
                "over_quota",
                "Fetches refused because the day's quota was spent.",
                Kind::Counter,
                |d| d.over_quota,
            ),
            (
                "node_http_errors",
                "Node answers other than HTTP 200.",
                Kind::Counter,
                |d| d.node_http_errors,
            ),
        ];
        let mut out: Vec<Family> = per
            .iter()
            .map(|(name, help, kind, field)| {
                let samples = self
                    .deployments
                    .iter()
                    .map(|(id, d)| (vec![("deployment", id.clone())], field(d) as f64))
                    .collect();
                Family::labelled(name, help, *kind, samples)
            })
            .collect();
        out.push(Family::labelled(
            "truncated",
            "Replies cut at the response size cap.",
            Kind::Counter,
            self.deployments
                .iter()
                .map(|(id, d)| (vec![("deployment", id.clone())], d.truncated as f64))
                .collect(),
        ));
        out.push(Family::labelled(
            "faults",
            "Injected faults by kind.",
            Kind::Counter,
            self.faults
                .iter()
                .map(|(k, n)| (vec![("kind", k.clone())], *n as f64))
                .collect(),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_deployments() {
        let s = Stats::new(9);
        s.with("a", |d| {
            d.calls += 1;
            d.bytes_in += 10;
        });
        s.with("b", |d| {
            d.calls += 2;
            d.bytes_out += 5;
        });
        s.with("a", |d| d.in_flight += 1);
        s.fault("decoy");
        s.fault("decoy");
        let snap = s.snapshot();
        assert_eq!(
            (snap.seed, snap.calls, snap.bytes_in, snap.bytes_out),
            (9, 3, 10, 5)
        );
        assert_eq!(snap.deployment("a").in_flight, 1);
        assert_eq!(snap.fault("decoy"), 2);
        assert_eq!(snap.fault("drop_reply"), 0);
        let json: serde_json::Value = serde_json::from_str(&snap.to_json_pretty()).unwrap();
        assert_eq!(json["deployments"]["b"]["calls"], 2);
        let text = seqtun_runtime::metrics::render("seqtun_relay", snap.families());
        assert!(
            text.contains("seqtun_relay_calls_total{deployment=\"b\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("seqtun_relay_in_flight{deployment=\"a\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("seqtun_relay_faults_total{kind=\"decoy\"} 2"),
            "{text}"
        );
    }
}
