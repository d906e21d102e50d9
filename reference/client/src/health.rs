//! What the multiplexer learns about the relay path and the sessions learn about targets,
//! shared so a new session can decide whether to tell its app "connected" before the node
//! answered (§6.7). The decisions are `seqtun-wire`'s; this only holds them under locks.

use std::sync::Mutex;
use std::time::Instant;

use seqtun_wire::client::{ClientParams, FailedTargets, PathHealth};

/// Shared by the multiplexer (batch outcomes) and the sessions (target outcomes).
#[derive(Debug)]
pub struct Health {
    path: Mutex<PathHealth>,
    failed: Mutex<FailedTargets>,
}

impl Health {
    pub fn new(params: &ClientParams) -> Self {
        Self {
            path: Mutex::new(PathHealth::default()),
            failed: Mutex::new(FailedTargets::new(
                params.failed_target_ttl,
                params.failed_targets_max,
            )),
        }
    }

    /// A batch round trip ended; `ok` when the relay answered it cleanly.
    pub fn batch_done(&self, ok: bool) {
        lock(&self.path).record(ok);
    }

    /// Whether an app connecting to `host:port` may be told "connected" before the node
    /// answered.
    pub fn may_grant_early(&self, host: &str, port: u16, now: Instant) -> bool {
        lock(&self.path).proven() && !lock(&self.failed).contains(host, port, now)
    }

    pub fn target_failed(&self, host: &str, port: u16, now: Instant) {
        lock(&self.failed).note(host, port, now);
    }

    pub fn target_opened(&self, host: &str, port: u16) {
        lock(&self.failed).forget(host, port);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
