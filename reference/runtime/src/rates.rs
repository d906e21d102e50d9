//! Per-second rates for `/stats` documents, over the last minute, without a task of their own.
//!
//! An operator reading `/stats` wants "how busy is it now", which totals do not say, and a
//! scraper should not need to diff two reads. The stats line has its own window (the previous
//! line); `/stats` may be read by anybody at any time, so the window here is kept by the reads
//! themselves: a read older than [`RATE_SAMPLE_EVERY`] than the last sample leaves a new one,
//! samples older than [`RATE_WINDOW`] are dropped (one is always kept), and a rate is the growth
//! since the oldest sample. Until the first minute has passed, that is the rate since start.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest span a rate is averaged over.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How far apart the kept samples are.
pub const RATE_SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Samples of `N` counters, oldest first.
#[derive(Debug)]
pub struct Rates<const N: usize> {
    samples: Mutex<VecDeque<(Instant, [u64; N])>>,
}

/// Rates of `N` counters over `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerSec<const N: usize> {
    pub window_secs: f64,
    pub per_sec: [f64; N],
}

impl<const N: usize> PerSec<N> {
    /// The `/stats` form: `{"window_secs": 60.0, "<name>_per_sec": 12.5, ...}`, the window to
    /// the millisecond and rates to hundredths.
    pub fn to_json(&self, names: [&str; N]) -> String {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        let ms = (self.window_secs * 1000.0).round() / 1000.0;
        let mut out = format!("{{\"window_secs\":{ms}");
        for (name, rate) in names.iter().zip(self.per_sec) {
            out.push_str(&format!(",\"{name}_per_sec\":{}", round(rate)));
        }
        out.push('}');
        out
    }
}

impl<const N: usize> Default for Rates<N> {
    /// Counters that start at zero now.
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl<const N: usize> Rates<N> {
    /// Counters that were all zero at `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            samples: Mutex::new(VecDeque::from([(start, [0; N])])),
        }
    }

    /// The growth of `current` per second since the oldest sample in the window, at `now`.
    pub fn read(&self, now: Instant, current: [u64; N]) -> PerSec<N> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let newest = samples.back().map(|(t, _)| *t);
        if newest.is_none_or(|t| now.saturating_duration_since(t) >= RATE_SAMPLE_EVERY) {
            samples.push_back((now, current));
        }
        while samples.len() > 1
            && samples
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            samples.pop_front();
        }
        let (since, then) = samples.front().copied().unwrap_or((now, current));
        let secs = now.saturating_duration_since(since).as_secs_f64();
        let mut per_sec = [0.0; N];
        if secs > 0.0 {
            for (rate, (now_n, then_n)) in per_sec.iter_mut().zip(current.iter().zip(then)) {
                *rate = now_n.saturating_sub(then_n) as f64 / secs;
            }
        }
        PerSec {
            window_secs: secs,
            per_sec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_minute_averages_since_start_then_the_window_slides() {
        let t0 = Instant::now();
        let r = Rates::<2>::new(t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        // 10 a second for 30 s, then nothing.
        let x = r.read(at(30), [300, 60]);
        assert_eq!(x.window_secs, 30.0);
        assert_eq!(x.per_sec, [10.0, 2.0]);
        // At 100 s the samples at 0 s and 30 s are out of the window; nothing grew since 30 s.
        r.read(at(50), [300, 60]);
        let x = r.read(at(100), [300, 60]);
        assert_eq!(
            x.window_secs, 50.0,
            "the oldest kept sample is the one at 50 s"
        );
        assert_eq!(x.per_sec, [0.0, 0.0]);
    }

    #[test]
    fn reads_closer_than_the_sample_spacing_leave_no_sample() {
        let t0 = Instant::now();
        let r = Rates::<1>::new(t0);
        for ms in (0..5_000).step_by(100) {
            r.read(t0 + Duration::from_millis(ms), [ms]);
        }
        assert_eq!(r.samples.lock().unwrap().len(), 1);
        // Never more samples than the window holds, however often it is read.
        for s in 0..1000 {
            r.read(t0 + Duration::from_secs(s), [s]);
        }
        let kept = r.samples.lock().unwrap().len();
        assert!(kept <= (RATE_WINDOW.as_secs() / RATE_SAMPLE_EVERY.as_secs()) as usize + 1);
    }

    #[test]
    fn the_json_names_each_rate() {
        let x = PerSec {
            window_secs: 59.996,
            per_sec: [1.0 / 3.0, 0.0],
        };
        assert_eq!(
            x.to_json(["batches", "ops"]),
            r#"{"window_secs":59.996,"batches_per_sec":0.33,"ops_per_sec":0}"#
        );
    }

    #[test]
    fn a_clock_that_did_not_move_gives_zero_not_a_division_by_zero() {
        let t0 = Instant::now();
        let r = Rates::<1>::new(t0);
        let x = r.read(t0, [5]);
        assert_eq!(x.per_sec, [0.0]);
    }
}
