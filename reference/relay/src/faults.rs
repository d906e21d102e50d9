//! Which fault (if any) call number `n` suffers, decided from plain values.
//!
//! Reproducibility is the point: a conformance failure found with `--seed 7` must come back
//! with `--seed 7`, whatever order concurrent calls race in. So a decision depends only on
//! the seed and the call's number, never on a shared generator advanced by whichever call
//! came first: call `n` reads ChaCha8 stream `n` of the seed. The algorithm is pinned by a
//! golden test, because changing it silently would make recorded seeds meaningless.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// What happens to one call. The JSON form (`{"action":"drop_reply"}`) is the script format
/// of `--script` (README, "Faults").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "snake_case",
    try_from = "script::RawAction"
)]
pub enum Action {
    /// Forwarded normally.
    Pass,
    /// The connection is dropped before the node sees the request.
    DropRequest,
    /// The node processes the request, then the connection is dropped without a reply.
    DropReply,
    /// The node receives the request twice, one after the other; the client gets one reply.
    Duplicate { reply: DuplicateReply },
    /// The request waits before going to the node until `after` other calls were answered
    /// (or `max_ms` passed), so later calls overtake it.
    HoldBack { after: u64, max_ms: u64 },
    /// The decoy page, without contacting the node.
    Decoy,
    /// A Google 5xx error page, without contacting the node.
    ServerError { status: u16 },
    /// The node's batch reply loses entries: `r` keeps `keep` entries (default: all but the
    /// last; never all of them).
    ShortReply {
        #[serde(skip_serializing_if = "Option::is_none")]
        keep: Option<usize>,
    },
    /// Op fields an old relay does not know (`seq`, `wseq`, ...) are dropped for this call.
    StripUnknown,
    /// The node's batch reply gains an entry that answers no op ([`crate::rewrite::EXTRA_ENTRY`]) at
    /// index `at` (default 0, the front; past the end: appended), shifting the entries after it.
    ExtraEntry {
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<usize>,
    },
    /// Two entries of the node's batch reply trade places: `entries`, or by default the first
    /// two that name different sessions with equal seqs (the swap no seq check catches).
    SwapEntries {
        #[serde(skip_serializing_if = "Option::is_none")]
        entries: Option<[usize; 2]>,
    },
}

/// Which of the two node replies a duplicated call returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReply {
    #[default]
    First,
    Second,
}

/// A held call goes out after this many other calls were answered.
pub const DEFAULT_HOLD_AFTER: u64 = 1;
/// A held call goes out after this long at the latest.
pub const DEFAULT_HOLD_MAX: Duration = Duration::from_secs(10);
/// Status of the `server_error` fault.
pub const DEFAULT_SERVER_ERROR_STATUS: u16 = 500;

fn default_hold_max_ms() -> u64 {
    DEFAULT_HOLD_MAX.as_millis() as u64
}

impl Action {
    /// The name used in scripts, flags and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::DropRequest => "drop_request",
            Action::DropReply => "drop_reply",
            Action::Duplicate { .. } => "duplicate",
            Action::HoldBack { .. } => "hold_back",
            Action::Decoy => "decoy",
            Action::ServerError { .. } => "server_error",
            Action::ShortReply { .. } => "short_reply",
            Action::StripUnknown => "strip_unknown",
            Action::ExtraEntry { .. } => "extra_entry",
            Action::SwapEntries { .. } => "swap_entries",
        }
    }

    /// The action with its default parameters, by name.
    pub fn from_kind(kind: &str) -> Option<Action> {
        serde_json::from_value(serde_json::json!({ "action": kind })).ok()
    }
}

/// Probability of each fault per call; the rest pass. Their sum may not exceed 1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultRates {
    pub drop_request: f64,
    pub drop_reply: f64,
    pub duplicate: f64,
    pub hold_back: f64,
    pub decoy: f64,
    pub server_error: f64,
    pub short_reply: f64,
    pub strip_unknown: f64,
    pub extra_entry: f64,
    pub swap_entries: f64,
}

/// Why a fault plan is unusable; each names the flag to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("--{flag}-rate must be between 0 and 1, got {value}")]
    RateOutOfRange { flag: String, value: f64 },
    #[error("the --*-rate flags add up to {0}, more than 1; lower some of them")]
    RatesOverOne(f64),
    #[error("server_error status {0} is not a 5xx status; use 500-599")]
    NotServerError(u16),
    #[error("--pattern is empty; list actions separated by commas, e.g. pass,drop_reply")]
    EmptyPattern,
    #[error("unknown action {0:?} in --pattern; known: {KINDS}")]
    UnknownAction(String),
    #[error("fault script: {0} (expected a JSON list like [{{\"action\":\"pass\"}}])")]
    Script(String),
}

/// Every action name, for messages.
pub const KINDS: &str = "pass, drop_request, drop_reply, duplicate, hold_back, decoy, server_error, short_reply, strip_unknown, extra_entry, swap_entries";

/// Where actions come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Source {
    /// Drawn from the rates.
    #[default]
    Rates,
    /// One action per call from the list; calls after its end use the rates.
    Script(Vec<Action>),
    /// The list repeated forever.
    Pattern(Vec<Action>),
}

/// The whole fault configuration of a relay.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    pub rates: FaultRates,
    /// Parameters of rate-drawn actions (`pass` for actions without any).
    pub defaults: RateDefaults,
    pub source: Source,
}

/// Parameters for actions drawn from rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDefaults {
    pub hold_after: u64,
    pub hold_max: Duration,
    pub server_error_status: u16,
    pub duplicate_reply: DuplicateReply,
    pub short_reply_keep: Option<usize>,
    pub extra_entry_at: Option<usize>,
}

impl Default for RateDefaults {
    fn default() -> Self {
        Self {
            hold_after: DEFAULT_HOLD_AFTER,
            hold_max: DEFAULT_HOLD_MAX,
            server_error_status: DEFAULT_SERVER_ERROR_STATUS,
            duplicate_reply: DuplicateReply::First,
            short_reply_keep: None,
            extra_entry_at: None,
        }
    }
}

/// The decision for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// Uniform 64-bit draw for the call's latency jitter.
    jitter_draw: u64,
}

impl Decision {
    /// This call's jitter: uniform in `[0, max]` at millisecond granularity.
    pub fn jitter(&self, max: Duration) -> Duration {
        let max_ms = max.as_millis().min(u128::from(u64::MAX - 1)) as u64;
        Duration::from_millis(self.jitter_draw % (max_ms + 1))
    }
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::new(0)
    }
}

impl FaultPlan {
    /// No faults, the given seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rates: FaultRates::default(),
            defaults: RateDefaults::default(),
            source: Source::Rates,
        }
    }

    /// Checks rates and statuses; the relay refuses to start with a plan that fails this.
    pub fn validate(&self) -> Result<(), PlanError> {
        let mut sum = 0.0;
        for (flag, value) in self.rates.named() {
            if !(0.0..=1.0).contains(&value) {
                return Err(PlanError::RateOutOfRange {
                    flag: flag.replace('_', "-"),
                    value,
                });
            }
            sum += value;
        }
        if sum > 1.0 + 1e-9 {
            return Err(PlanError::RatesOverOne(sum));
        }
        let listed = match &self.source {
            Source::Rates => &[][..],
            Source::Script(list) => list,
            Source::Pattern(list) if list.is_empty() => return Err(PlanError::EmptyPattern),
            Source::Pattern(list) => list,
        };
        let statuses = listed
            .iter()
            .filter_map(|a| match a {
                Action::ServerError { status } => Some(*status),
                _ => None,
            })
            .chain([self.defaults.server_error_status]);
        for status in statuses {
            if !(500..=599).contains(&status) {
                return Err(PlanError::NotServerError(status));
            }
        }
        Ok(())
    }

    /// The decision for call `n` (0-based, in arrival order across all deployments).
    pub fn decide(&self, n: u64) -> Decision {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(n);
        let fault_draw = rng.next_u64();
        let jitter_draw = rng.next_u64();
        let listed = match &self.source {
            Source::Script(list) => usize::try_from(n).ok().and_then(|i| list.get(i)),
            Source::Pattern(list) if !list.is_empty() => list.get((n % list.len() as u64) as usize),
            _ => None,
        };
        let action = match listed {
            Some(a) => a.clone(),
            None => self.draw(fault_draw),
        };
        Decision {
            action,
            jitter_draw,
        }
    }

    /// Maps a uniform draw onto the rates, in a fixed order of kinds.
    fn draw(&self, draw: u64) -> Action {
        // 53 random bits give a uniform double in [0, 1).
        let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
        let d = &self.defaults;
        let mut acc = 0.0;
        for (kind, rate) in self.rates.named() {
            acc += rate;
            if u < acc {
                return match kind {
                    "drop_request" => Action::DropRequest,
                    "drop_reply" => Action::DropReply,
                    "duplicate" => Action::Duplicate {
                        reply: d.duplicate_reply,
                    },
                    "hold_back" => Action::HoldBack {
                        after: d.hold_after,
                        max_ms: d.hold_max.as_millis() as u64,
                    },
                    "decoy" => Action::Decoy,
                    "server_error" => Action::ServerError {
                        status: d.server_error_status,
                    },
                    "short_reply" => Action::ShortReply {
                        keep: d.short_reply_keep,
                    },
                    "strip_unknown" => Action::StripUnknown,
                    "extra_entry" => Action::ExtraEntry {
                        at: d.extra_entry_at,
                    },
                    _ => Action::SwapEntries { entries: None },
                };
            }
        }
        Action::Pass
    }
}

impl FaultRates {
    /// `(kind, rate)` in the fixed order draws use; new kinds go at the end, so recorded seeds
    /// keep their meaning.
    pub fn named(&self) -> [(&'static str, f64); 10] {
        self.clone().slots().map(|(kind, rate)| (kind, *rate))
    }

    /// Sets the rate of the fault named `kind`; false when no fault has that name.
    pub fn set(&mut self, kind: &str, rate: f64) -> bool {
        match self.slots().into_iter().find(|(k, _)| *k == kind) {
            Some((_, slot)) => {
                *slot = rate;
                true
            }
            None => false,
        }
    }

    /// Each fault's name and rate field: the one place names meet fields.
    fn slots(&mut self) -> [(&'static str, &mut f64); 10] {
        [
            ("drop_request", &mut self.drop_request),
            ("drop_reply", &mut self.drop_reply),
            ("duplicate", &mut self.duplicate),
            ("hold_back", &mut self.hold_back),
            ("decoy", &mut self.decoy),
            ("server_error", &mut self.server_error),
            ("short_reply", &mut self.short_reply),
            ("strip_unknown", &mut self.strip_unknown),
            ("extra_entry", &mut self.extra_entry),
            ("swap_entries", &mut self.swap_entries),
        ]
    }
}

mod script;

pub use script::{parse_pattern, parse_script};

#[cfg(test)]
mod tests;
