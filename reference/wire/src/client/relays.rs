//! Choosing a relay for each batch (§6.4).
//!
//! Users stack several Apps Script deployments to get more parallel executions, so batches go
//! round robin. Each deployment runs at most 30 executions at once, so a relay holding that many
//! batches is skipped rather than queued behind. A relay that failed three batches in a row is
//! probably over quota or misconfigured; it cools down for a minute instead of failing every
//! third batch. When every relay cools, the one whose cooldown ends first is used: some chance
//! beats none.

use std::time::{Duration, Instant};

use super::params::ClientParams;

#[derive(Debug, Clone, Default)]
struct Relay {
    in_flight: usize,
    failures: u32,
    cooling_until: Option<Instant>,
}

/// The relays of one client, by index.
#[derive(Debug, Clone)]
pub struct RelayPool {
    relays: Vec<Relay>,
    next: usize,
    max_in_flight: usize,
    threshold: u32,
    cooldown: Duration,
}

impl RelayPool {
    pub fn new(count: usize, params: &ClientParams) -> Self {
        Self {
            relays: vec![Relay::default(); count],
            next: 0,
            max_in_flight: params.max_inflight_per_relay.max(1),
            threshold: params.relay_failure_threshold.max(1),
            cooldown: params.relay_cooldown,
        }
    }

    pub fn len(&self) -> usize {
        self.relays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.relays.is_empty()
    }

    fn cooling(&self, i: usize, now: Instant) -> bool {
        self.relays[i].cooling_until.is_some_and(|t| t > now)
    }

    /// Picks the relay for the next batch and counts it in flight; `None` when every usable
    /// relay is at its in-flight cap (wait for a batch to finish, then ask again).
    pub fn pick(&mut self, now: Instant) -> Option<usize> {
        let n = self.relays.len();
        let has_room = |r: &Relay| r.in_flight < self.max_in_flight;
        let warm = (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| !self.cooling(i, now) && has_room(&self.relays[i]));
        let chosen = match warm {
            Some(i) => Some(i),
            None if (0..n).all(|i| self.cooling(i, now)) => (0..n)
                .filter(|&i| has_room(&self.relays[i]))
                .min_by_key(|&i| self.relays[i].cooling_until),
            None => None,
        }?;
        self.next = (chosen + 1) % n;
        self.relays[chosen].in_flight += 1;
        Some(chosen)
    }

    /// Records the outcome of a batch sent to relay `i`.
    pub fn done(&mut self, i: usize, ok: bool, now: Instant) {
        let Some(r) = self.relays.get_mut(i) else {
            return;
        };
        r.in_flight = r.in_flight.saturating_sub(1);
        if ok {
            r.failures = 0;
            r.cooling_until = None;
            return;
        }
        r.failures += 1;
        if r.failures >= self.threshold {
            r.failures = 0;
            r.cooling_until = Some(now + self.cooldown);
        }
    }

    /// Batches in flight on relay `i`.
    pub fn in_flight(&self, i: usize) -> usize {
        self.relays.get(i).map_or(0, |r| r.in_flight)
    }

    /// True while relay `i` cools down.
    pub fn is_cooling(&self, i: usize, now: Instant) -> bool {
        i < self.relays.len() && self.cooling(i, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> RelayPool {
        RelayPool::new(n, &ClientParams::default())
    }

    #[test]
    fn round_robin() {
        let now = Instant::now();
        let mut p = pool(3);
        let picks: Vec<_> = (0..6).map(|_| p.pick(now).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn thirty_in_flight_is_the_cap() {
        let now = Instant::now();
        let mut p = pool(1);
        for _ in 0..30 {
            assert_eq!(p.pick(now), Some(0));
        }
        assert_eq!(p.pick(now), None);
        p.done(0, true, now);
        assert_eq!(p.pick(now), Some(0));
    }

    #[test]
    fn a_full_relay_is_skipped() {
        let now = Instant::now();
        let mut p = pool(2);
        for _ in 0..60 {
            assert!(p.pick(now).is_some());
        }
        assert_eq!(p.pick(now), None);
        p.done(1, true, now);
        assert_eq!(
            p.pick(now),
            Some(1),
            "relay 0 is full, so round robin skips it"
        );
        assert_eq!(p.pick(now), None);
    }

    #[test]
    fn three_failures_in_a_row_cool_a_relay_for_a_minute() {
        let now = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            assert!(!p.is_cooling(0, now));
            p.done(0, false, now);
        }
        assert!(p.is_cooling(0, now));
        for _ in 0..5 {
            let i = p.pick(now).unwrap();
            assert_eq!(i, 1);
            p.done(i, true, now);
        }
        let later = now + Duration::from_secs(60);
        assert!(!p.is_cooling(0, later));
        let picks: Vec<_> = (0..2).map(|_| p.pick(later).unwrap()).collect();
        assert!(picks.contains(&0));
    }

    #[test]
    fn two_failures_then_a_success_do_not_cool() {
        let now = Instant::now();
        let mut p = pool(1);
        for ok in [false, false, true, false, false] {
            p.pick(now);
            p.done(0, ok, now);
        }
        assert!(!p.is_cooling(0, now));
        p.pick(now);
        p.done(0, false, now);
        assert!(p.is_cooling(0, now));
    }

    #[test]
    fn when_all_cool_the_one_ending_first_is_used() {
        let t0 = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            p.pick(t0);
            p.done(1, false, t0);
        }
        assert!(p.is_cooling(1, t0));
        let t1 = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            let i = p.pick(t1).unwrap();
            assert_eq!(i, 0);
            p.done(0, false, t1);
        }
        assert!(p.is_cooling(0, t1) && p.is_cooling(1, t1));
        assert_eq!(
            p.pick(t1),
            Some(1),
            "relay 1 cools until t0+60, relay 0 until t1+60"
        );
    }
}
