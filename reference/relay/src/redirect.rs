//! One-time reply URLs, as script.google.com hands them out (§1.5).
//!
//! Apps Script answers the POST with a 302 to a URL on script.googleusercontent.com that
//! serves the body once. Clients that mishandle the redirect (re-POSTing, not following it,
//! following too few hops) only fail against the real service, so the emulator can do the
//! same. Bodies nobody fetches would pile up, hence a lifetime and a byte budget.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Path of the one-time URLs; the token is the `user_content_key` query parameter.
pub const ECHO_PATH: &str = "/macros/echo";

/// A body waiting for its GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Whose reply it is, for the byte counters.
    pub deployment: String,
    pub content_type: &'static str,
    pub body: Bytes,
}

/// Bodies by token, bounded by age and total size.
#[derive(Debug)]
pub struct RedirectStore {
    ttl: Duration,
    max_bytes: usize,
    bytes: usize,
    entries: HashMap<String, (Instant, Stored)>,
    order: VecDeque<String>,
}

impl RedirectStore {
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self {
            ttl,
            max_bytes,
            bytes: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Keeps `stored` under `token`, evicting expired bodies and then the oldest until it
    /// fits. A body larger than the whole budget is kept alone.
    pub fn put(&mut self, token: String, stored: Stored, now: Instant) {
        self.expire(now);
        while self.bytes + stored.body.len() > self.max_bytes && !self.order.is_empty() {
            self.evict_oldest();
        }
        self.bytes += stored.body.len();
        self.order.push_back(token.clone());
        self.entries.insert(token, (now, stored));
    }

    /// Hands out the body once; a second GET, an unknown or an expired token get nothing.
    pub fn take(&mut self, token: &str, now: Instant) -> Option<Stored> {
        self.expire(now);
        let (_, stored) = self.entries.remove(token)?;
        self.bytes -= stored.body.len();
        self.order.retain(|t| t != token);
        Some(stored)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(token) = self.order.front() {
            match self.entries.get(token) {
                Some((at, _)) if now.saturating_duration_since(*at) < self.ttl => break,
                _ => self.evict_oldest(),
            }
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(token) = self.order.pop_front()
            && let Some((_, stored)) = self.entries.remove(&token)
        {
            self.bytes -= stored.body.len();
        }
    }
}

/// The token of a one-time URL's query string, if any.
pub fn token_of(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("user_content_key="))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: usize) -> Stored {
        Stored {
            deployment: "d".into(),
            content_type: "application/json",
            body: Bytes::from(vec![b'x'; n]),
        }
    }

    #[test]
    fn a_body_is_served_once() {
        let t0 = Instant::now();
        let mut s = RedirectStore::new(Duration::from_secs(60), 1000);
        s.put("a".into(), stored(10), t0);
        assert_eq!(s.take("a", t0), Some(stored(10)));
        assert_eq!(s.take("a", t0), None);
        assert_eq!(s.take("b", t0), None);
        assert!(s.is_empty());
    }

    #[test]
    fn bodies_expire_at_the_ttl() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut s = RedirectStore::new(ttl, 1000);
        s.put("a".into(), stored(1), t0);
        s.put("b".into(), stored(1), t0 + Duration::from_secs(1));
        assert!(s.take("a", t0 + ttl - Duration::from_millis(1)).is_some());
        assert!(s.take("b", t0 + ttl + Duration::from_secs(1)).is_none());
    }

    #[test]
    fn the_byte_budget_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut s = RedirectStore::new(Duration::from_secs(60), 100);
        s.put("a".into(), stored(50), t0);
        s.put("b".into(), stored(50), t0);
        assert_eq!(s.len(), 2);
        s.put("c".into(), stored(1), t0);
        assert_eq!(s.len(), 2);
        assert!(s.take("a", t0).is_none());
        assert!(s.take("b", t0).is_some() && s.take("c", t0).is_some());
        s.put("big".into(), stored(500), t0);
        assert!(s.take("big", t0).is_some());
    }

    #[test]
    fn token_from_query() {
        assert_eq!(token_of(Some("user_content_key=abc&lib=d")), Some("abc"));
        assert_eq!(token_of(Some("lib=d&user_content_key=abc")), Some("abc"));
        assert_eq!(token_of(Some("user_content_key=")), None);
        assert_eq!(token_of(None), None);
    }
}
