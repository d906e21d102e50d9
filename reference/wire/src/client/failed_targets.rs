//! When the client may tell an app "connected" before the node answered (§6.7).
//!
//! Optimistic opening (grant first, then carry the app's first bytes in `connect_data`) saves a
//! relay round trip per connection, but a grant cannot be taken back: if the node then
//! reports an error, the app only sees its connection close. So the client grants early only
//! when an error is unlikely: the relay path has answered a batch since it last failed one
//! ([`PathHealth`]), and the target has not failed recently ([`FailedTargets`]). Otherwise it
//! waits for the node and answers the app with the real SOCKS5 code or HTTP status. A wrong
//! key or an http/https mix-up never lets a batch through, so every app gets an honest answer
//! for those; a refused port is closed once (logged) and answered honestly while remembered.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Whether the relay path is known to work: true after a batch was answered, false from the
/// first failed batch until the next answered one. Starts false, so the first sessions of a
/// client with a broken set-up get honest answers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PathHealth {
    proven: bool,
}

impl PathHealth {
    pub fn record(&mut self, batch_ok: bool) {
        self.proven = batch_ok;
    }

    pub fn proven(&self) -> bool {
        self.proven
    }
}

/// Targets whose connect failed recently, bounded in count (oldest entry evicted first) and
/// in time.
#[derive(Debug, Clone)]
pub struct FailedTargets {
    ttl: Duration,
    max: usize,
    until: HashMap<(String, u16), Instant>,
}

fn key(host: &str, port: u16) -> (String, u16) {
    (host.trim_end_matches('.').to_ascii_lowercase(), port)
}

impl FailedTargets {
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            until: HashMap::new(),
        }
    }

    /// Remembers that a connect to `host:port` failed at `now`.
    pub fn note(&mut self, host: &str, port: u16, now: Instant) {
        if self.max == 0 || self.ttl.is_zero() {
            return;
        }
        self.until.retain(|_, until| *until > now);
        let k = key(host, port);
        if !self.until.contains_key(&k) && self.until.len() >= self.max {
            let oldest = self
                .until
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.until.remove(&oldest);
            }
        }
        self.until.insert(k, now + self.ttl);
    }

    /// True while a failure of `host:port` is remembered.
    pub fn contains(&self, host: &str, port: u16, now: Instant) -> bool {
        self.until
            .get(&key(host, port))
            .is_some_and(|until| *until > now)
    }

    /// Forgets a target that has since opened.
    pub fn forget(&mut self, host: &str, port: u16) {
        self.until.remove(&key(host, port));
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_unproven_until_a_batch_is_answered_and_after_one_fails() {
        let mut h = PathHealth::default();
        assert!(!h.proven());
        h.record(true);
        assert!(h.proven());
        h.record(false);
        assert!(!h.proven());
    }

    #[test]
    fn failures_expire_and_match_case_and_trailing_dot_insensitively() {
        let t0 = Instant::now();
        let mut f = FailedTargets::new(Duration::from_secs(30), 8);
        f.note("Example.COM.", 443, t0);
        assert!(f.contains("example.com", 443, t0 + Duration::from_secs(29)));
        assert!(!f.contains("example.com", 80, t0));
        assert!(!f.contains("example.com", 443, t0 + Duration::from_secs(30)));
        f.forget("example.com", 443);
        assert!(f.is_empty());
    }

    #[test]
    fn the_count_limit_holds_at_its_edge_and_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut f = FailedTargets::new(Duration::from_secs(30), 2);
        f.note("a", 1, t0);
        f.note("b", 1, t0 + Duration::from_secs(1));
        assert_eq!(f.len(), 2);
        f.note("b", 1, t0 + Duration::from_secs(2));
        assert_eq!(f.len(), 2, "a refresh is not a new entry");
        f.note("c", 1, t0 + Duration::from_secs(3));
        assert_eq!(f.len(), 2);
        assert!(
            !f.contains("a", 1, t0 + Duration::from_secs(3)),
            "oldest evicted"
        );
        assert!(f.contains("c", 1, t0 + Duration::from_secs(3)));
        let mut off = FailedTargets::new(Duration::from_secs(30), 0);
        off.note("a", 1, t0);
        assert!(off.is_empty());
    }
}
