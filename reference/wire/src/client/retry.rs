//! When a replay-safe session sends an op again (§7.10), and when it gives up.
//!
//! Only a session whose node holds replies until they are acknowledged may resend: there, the
//! same seq with the same payload either runs once (the first copy never arrived) or gets the
//! first copy's reply back (it ran, its answer was lost). Everywhere else a resend could write
//! bytes twice or get an empty answer for bytes already drained, so nothing is retried.
//! The budget is bounded in count and in time, so a dead path still ends the session as it
//! would without retries, only later.

use std::time::{Duration, Instant};

use super::replies::{OpFailure, OpResult};

/// Most times one op is sent again after its first send.
pub const RETRY_MAX: u32 = 5;
/// No op is sent again later than this after its first send.
pub const RETRY_WITHIN: Duration = Duration::from_secs(120);
/// The wait before the first resend; it doubles for each later one.
pub const RETRY_BACKOFF_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between two sends of one op.
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(4);
/// `code` of a seq wait timeout on a replay-safe session: the seq was not consumed.
pub const CODE_SEQ_TIMEOUT: &str = "SEQ_TIMEOUT";
/// `code` of a retransmit whose reply the node no longer holds.
pub const CODE_SEQ_RELEASED: &str = "SEQ_RELEASED";

/// The retry budget of one session's ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    pub max: u32,
    pub within: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            max: RETRY_MAX,
            within: RETRY_WITHIN,
        }
    }
}

/// Whether `result` may be cured by sending the op again on a replay-safe session: its batch
/// failed as a whole or its reply list could not be trusted, or the node says the op waited out
/// its turn without running. A 413 is not a retry: the op goes again smaller (§6.3).
pub fn retryable(result: &OpResult) -> bool {
    match result {
        Ok(reply) => reply.code.as_deref() == Some(CODE_SEQ_TIMEOUT),
        Err(OpFailure::TooLarge { .. }) => false,
        Err(
            OpFailure::Batch(_)
            | OpFailure::Missing { .. }
            | OpFailure::Extra { .. }
            | OpFailure::ForeignSid { .. }
            | OpFailure::NoSid { .. }
            | OpFailure::TakenSid { .. }
            | OpFailure::UnsentSeq { .. },
        ) => true,
    }
}

impl RetryBudget {
    /// When an op first sent at `first_sent` and sent `resends` times again since may go once
    /// more, having failed at `now`; `None` when the budget is spent.
    pub fn next(&self, resends: u32, first_sent: Instant, now: Instant) -> Option<Instant> {
        if resends >= self.max {
            return None;
        }
        let wait = RETRY_BACKOFF_FIRST
            .saturating_mul(1u32.checked_shl(resends).unwrap_or(u32::MAX))
            .min(RETRY_BACKOFF_MAX);
        let at = now + wait;
        (at.saturating_duration_since(first_sent) <= self.within).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;

    #[test]
    fn the_backoff_doubles_to_its_cap_and_the_count_ends_it() {
        let b = RetryBudget::default();
        let t = Instant::now();
        let waits: Vec<Duration> = (0..RETRY_MAX)
            .map(|n| b.next(n, t, t).unwrap() - t)
            .collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(waits, vec![ms(250), ms(500), ms(1000), ms(2000), ms(4000)]);
        assert_eq!(b.next(RETRY_MAX, t, t), None, "at the count, no more");
        assert_eq!(b.next(40, t, t), None, "no overflow far past it");
    }

    #[test]
    fn no_resend_goes_later_than_the_window() {
        let b = RetryBudget::default();
        let t = Instant::now();
        let edge = t + RETRY_WITHIN - RETRY_BACKOFF_FIRST;
        assert_eq!(
            b.next(0, t, edge),
            Some(t + RETRY_WITHIN),
            "exactly at the window"
        );
        assert_eq!(b.next(0, t, edge + Duration::from_millis(1)), None);
    }

    #[test]
    fn batch_failures_and_seq_timeouts_are_retried_nothing_else() {
        assert!(retryable(&Err(OpFailure::Batch("timeout".into()))));
        assert!(retryable(&Err(OpFailure::Extra { got: 3, want: 2 })));
        assert!(retryable(&Err(OpFailure::UnsentSeq {
            sent: Some(1),
            got: 2
        })));
        assert!(!retryable(&Err(OpFailure::TooLarge {
            payload: vec![1],
            max: 1
        })));
        let timeout = Reply {
            e: Some("seq 3 timed out waiting for 2 (waited 30s)".into()),
            code: Some(CODE_SEQ_TIMEOUT.into()),
            seq: Some(3),
            ..Reply::default()
        };
        assert!(retryable(&Ok(timeout.clone())));
        let other = Reply {
            code: None,
            ..timeout
        };
        assert!(
            !retryable(&Ok(other)),
            "an error without the code ends the session"
        );
        assert!(!retryable(&Ok(Reply::drained("s", b"x", false))));
    }
}
