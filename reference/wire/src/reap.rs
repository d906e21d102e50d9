//! Which TCP sessions the reaper removes, and why (§5.1).
//!
//! Two clocks: idleness (nothing touched the session) and, for a session whose sid went out in
//! an answer but which no op has named since, the time since that answer left. The second
//! exists because a relay that loses a connect's reply after the node wrote it leaves a session
//! nobody can name: it reads its fair share of the buffers and, on idleness alone, would hold
//! them for the whole idle timeout (the chain soak in docs/RELIABILITY.md found about 200 such
//! sessions). Every client names a new session within a relay round trip or two (its first
//! poll), so a minute without that means the answer was lost.

use std::time::Duration;

/// When sessions expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReapLimits {
    /// Untouched this long: reaped.
    pub idle: Duration,
    /// Its sid handed out this long ago and never named by an op since: reaped.
    /// `Duration::ZERO` turns the rule off.
    pub unclaimed: Duration,
}

/// Why a session goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Idle,
    Unclaimed,
}

/// What the reaper knows of one TCP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionAge {
    /// Since anything last touched it.
    pub idle: Duration,
    /// Since the answer carrying its sid was handed to the connection, while no op has named
    /// it; `None` once one has (or before the answer went out).
    pub unclaimed: Option<Duration>,
}

/// §5.1: "A TCP session untouched for the idle timeout is reaped; one whose sid was handed out
/// and never named for the unclaimed timeout is reaped too."
pub fn tcp_expiry(age: SessionAge, limits: ReapLimits) -> Option<Expiry> {
    if age.idle > limits.idle {
        return Some(Expiry::Idle);
    }
    let unclaimed_rule_on = limits.unclaimed > Duration::ZERO;
    match age.unclaimed {
        Some(t) if unclaimed_rule_on && t > limits.unclaimed => Some(Expiry::Unclaimed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReapLimits = ReapLimits {
        idle: Duration::from_secs(300),
        unclaimed: Duration::from_secs(60),
    };

    fn age(idle: u64, unclaimed: Option<u64>) -> SessionAge {
        SessionAge {
            idle: Duration::from_secs(idle),
            unclaimed: unclaimed.map(Duration::from_secs),
        }
    }

    #[test]
    fn idleness_reaps_at_its_edge() {
        assert_eq!(tcp_expiry(age(300, None), LIMITS), None);
        assert_eq!(tcp_expiry(age(301, None), LIMITS), Some(Expiry::Idle));
    }

    #[test]
    fn an_unclaimed_session_goes_after_its_timeout_and_a_claimed_one_does_not() {
        assert_eq!(tcp_expiry(age(60, Some(60)), LIMITS), None);
        assert_eq!(
            tcp_expiry(age(61, Some(61)), LIMITS),
            Some(Expiry::Unclaimed)
        );
        assert_eq!(
            tcp_expiry(age(200, None), LIMITS),
            None,
            "named once: idle rule only"
        );
    }

    #[test]
    fn a_zero_unclaimed_timeout_turns_the_rule_off() {
        let off = ReapLimits {
            unclaimed: Duration::ZERO,
            ..LIMITS
        };
        assert_eq!(tcp_expiry(age(200, Some(200)), off), None);
        assert_eq!(tcp_expiry(age(301, Some(301)), off), Some(Expiry::Idle));
    }
}
