//! Counters: what the relay saw and what it did to it.
//!
//! Benches turn these into "relay calls per MB" and "quota burnt per idle session-hour" (the
//! costs field users pay), and fault tests use them to check that a fault was really injected
//! rather than inferring it from the client side alone.

use std::collections::BTreeMap;
use std::sync::Mutex;

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
    }
}
