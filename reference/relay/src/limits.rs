//! The Apps Script platform limits the relay emulates, as named defaults (field notes and
//! wire reference §1.3), plus the daily quota's bookkeeping.
//!
//! Latency defaults to zero so tests run fast; the field value (1.5–2.5 s) is one flag away.
//! Every other default is the platform's, so a client that survives the emulator's defaults
//! survives a fresh consumer account.

use std::time::Duration;

use tokio::time::Instant;

/// Fixed part of a call's latency (the field sees 1.5 s and more).
pub const DEFAULT_LATENCY: Duration = Duration::ZERO;
/// Largest random extra latency per call.
pub const DEFAULT_JITTER: Duration = Duration::ZERO;
/// Per-call transfer rate for request and reply bytes, in kbit/s; 0 is unlimited. An Apps
/// Script execution moves its request and reply at a finite rate, so a call's time is its
/// fixed latency plus its bytes over this rate (the part of a round trip pipelining can
/// overlap only by spreading ops over calls).
pub const DEFAULT_BANDWIDTH_KBPS: u64 = 0;
/// Simultaneous executions Apps Script allows per account.
pub const MAX_CONCURRENT_EXECUTIONS: usize = 30;
/// `UrlFetchApp.fetch` calls per day on a consumer account (accounts made in Iran often get
/// 5–10 K).
pub const URLFETCH_CALLS_PER_DAY: u64 = 20_000;
/// Largest response a call returns; beyond it the body is cut, as in field issue #460.
pub const MAX_RESPONSE_BYTES: usize = 50 << 20;
/// How long the daily quota lasts before it refills.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// seqtun: largest request body the relay reads; Apps Script's own cap is about the same.
pub const MAX_REQUEST_BYTES: usize = 50 << 20;
/// seqtun: most request-body bytes the relay holds at once across all calls: the concurrency
/// limits alone allow 30 calls of 50 MiB per deployment.
pub const MAX_BODY_MEMORY_BYTES: usize = 256 << 20;
/// How long the relay waits for the node (`UrlFetchApp`'s timeout is about 60 s).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// seqtun: most distinct deployment ids the relay keeps state for; more get a 404.
pub const MAX_DEPLOYMENTS: usize = 1024;
/// seqtun: longest deployment id accepted in a URL.
pub const MAX_DEPLOYMENT_ID_LEN: usize = 128;
/// How long a one-time redirect body waits to be fetched.
pub const REDIRECT_TTL: Duration = Duration::from_secs(60);
/// seqtun: most bytes of unfetched redirect bodies kept; the oldest go first.
pub const REDIRECT_STORE_BYTES: usize = 256 << 20;

/// Limits of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub latency: Duration,
    pub jitter: Duration,
    /// kbit/s per call for request and reply bytes; 0 is unlimited.
    pub bandwidth_kbps: u64,
    pub max_concurrent: usize,
    pub calls_per_day: u64,
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            latency: DEFAULT_LATENCY,
            jitter: DEFAULT_JITTER,
            bandwidth_kbps: DEFAULT_BANDWIDTH_KBPS,
            max_concurrent: MAX_CONCURRENT_EXECUTIONS,
            calls_per_day: URLFETCH_CALLS_PER_DAY,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// Why a `--deployment-limits` value is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error(
        "--deployment-limits {0:?}: expected DEPLOYMENT:key=value[,key=value...], e.g. dep1:latency_ms=2000,jitter_ms=500"
    )]
    Shape(String),
    #[error(
        "--deployment-limits: unknown key {0:?}; known: latency_ms, jitter_ms, bandwidth_kbps, max_concurrent, calls_per_day, max_response_bytes"
    )]
    UnknownKey(String),
    #[error("--deployment-limits: {key}={value} is not a whole number")]
    NotANumber { key: String, value: String },
    #[error("--deployment-limits: {0} must be at least 1")]
    Zero(String),
}

impl Limits {
    /// Parses `DEPLOYMENT:key=value,...` into the deployment id and these limits with the
    /// listed keys changed.
    pub fn parse_override(&self, text: &str) -> Result<(String, Limits), LimitsError> {
        let shape = || LimitsError::Shape(text.into());
        let (id, pairs) = text.split_once(':').ok_or_else(shape)?;
        if id.is_empty() || pairs.is_empty() {
            return Err(shape());
        }
        let mut limits = self.clone();
        for pair in pairs.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(shape)?;
            let n: u64 = value.trim().parse().map_err(|_| LimitsError::NotANumber {
                key: key.into(),
                value: value.into(),
            })?;
            let positive = |n: u64| {
                if n == 0 {
                    Err(LimitsError::Zero(key.into()))
                } else {
                    Ok(n)
                }
            };
            match key.trim() {
                "latency_ms" => limits.latency = Duration::from_millis(n),
                "jitter_ms" => limits.jitter = Duration::from_millis(n),
                "bandwidth_kbps" => limits.bandwidth_kbps = n,
                "max_concurrent" => limits.max_concurrent = positive(n)? as usize,
                "calls_per_day" => limits.calls_per_day = n,
                "max_response_bytes" => limits.max_response_bytes = positive(n)? as usize,
                other => return Err(LimitsError::UnknownKey(other.into())),
            }
        }
        Ok((id.into(), limits))
    }
}

impl Limits {
    /// How long `bytes` take to cross a call at this deployment's bandwidth (zero when
    /// unlimited), rounded up to the nanosecond.
    pub fn transfer_time(&self, bytes: usize) -> Duration {
        transfer_time(bytes, self.bandwidth_kbps)
    }
}

/// `bytes` at `kbps` kbit/s (1 kbit = 1000 bits); zero when `kbps` is 0 (unlimited).
pub fn transfer_time(bytes: usize, kbps: u64) -> Duration {
    if kbps == 0 {
        return Duration::ZERO;
    }
    // bits / (kbps * 1000) seconds = bytes * 8_000_000 / kbps nanoseconds.
    let nanos = (bytes as u128 * 8_000_000).div_ceil(u128::from(kbps));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A deployment's daily `UrlFetchApp` allowance.
#[derive(Debug)]
pub struct Quota {
    per_window: u64,
    window: Duration,
    started: Instant,
    used: u64,
}

impl Quota {
    pub fn new(per_window: u64, window: Duration, now: Instant) -> Self {
        Self {
            per_window,
            window,
            started: now,
            used: 0,
        }
    }

    /// Takes one call from the allowance; false once the window's calls are spent. A new
    /// window starts (and refills) once the current one has passed.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.started) >= self.window {
            self.started = now;
            self.used = 0;
        }
        if self.used >= self.per_window {
            return false;
        }
        self.used += 1;
        true
    }

    pub fn used(&self) -> u64 {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_edge_and_refill() {
        let t0 = Instant::now();
        let mut q = Quota::new(3, Duration::from_secs(10), t0);
        assert!(q.try_take(t0) && q.try_take(t0) && q.try_take(t0));
        assert!(!q.try_take(t0));
        assert!(!q.try_take(t0 + Duration::from_millis(9_999)));
        assert_eq!(q.used(), 3);
        assert!(q.try_take(t0 + Duration::from_secs(10)));
        assert_eq!(q.used(), 1);
    }

    #[test]
    fn overrides_change_only_the_listed_keys() {
        let base = Limits::default();
        let (id, l) = base
            .parse_override("dep1:latency_ms=1500,jitter_ms=500,max_concurrent=2")
            .unwrap();
        assert_eq!(id, "dep1");
        assert_eq!(l.latency, Duration::from_millis(1500));
        assert_eq!(l.jitter, Duration::from_millis(500));
        assert_eq!(l.max_concurrent, 2);
        assert_eq!(l.calls_per_day, URLFETCH_CALLS_PER_DAY);
        assert_eq!(l.max_response_bytes, MAX_RESPONSE_BYTES);
        let (_, l) = base
            .parse_override("d:calls_per_day=5,max_response_bytes=100,bandwidth_kbps=800")
            .unwrap();
        assert_eq!((l.calls_per_day, l.max_response_bytes), (5, 100));
        assert_eq!(l.bandwidth_kbps, 800);
        assert_eq!(l.latency, base.latency);
        // A spent account from the start is a useful case, so zero calls is allowed.
        let (_, l) = base.parse_override("d:calls_per_day=0").unwrap();
        assert_eq!(l.calls_per_day, 0);
    }

    #[test]
    fn transfer_time_at_its_edges() {
        assert_eq!(transfer_time(1 << 30, 0), Duration::ZERO, "0 is unlimited");
        assert_eq!(transfer_time(0, 8), Duration::ZERO);
        // 8 kbit/s is 1000 bytes per second: one byte is exactly a millisecond.
        assert_eq!(transfer_time(1, 8), Duration::from_millis(1));
        assert_eq!(transfer_time(1000, 8), Duration::from_secs(1));
        // 1 kbit/s, 1 byte: 8 ms; 3 kbit/s rounds up to the next nanosecond.
        assert_eq!(transfer_time(1, 1), Duration::from_millis(8));
        assert_eq!(transfer_time(1, 3), Duration::from_nanos(2_666_667));
        // The largest values do not overflow.
        assert_eq!(transfer_time(usize::MAX, 1), Duration::from_nanos(u64::MAX));
        let l = Limits {
            bandwidth_kbps: 80_000,
            ..Limits::default()
        };
        assert_eq!(l.transfer_time(10_000_000), Duration::from_secs(1));
    }

    #[test]
    fn bad_overrides_name_the_problem() {
        let base = Limits::default();
        for (text, want) in [
            ("dep1", "expected DEPLOYMENT:key=value"),
            (":latency_ms=1", "expected DEPLOYMENT:key=value"),
            ("d:latency_ms", "expected DEPLOYMENT:key=value"),
            ("d:speed=1", "unknown key"),
            ("d:latency_ms=fast", "not a whole number"),
            ("d:max_concurrent=0", "at least 1"),
        ] {
            let err = base.parse_override(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
