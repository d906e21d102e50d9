//! How long a client waits for a batch and for one reply (§6.6).
//!
//! A seq'd op can legitimately wait at the node for its turn (30 s) and then long-poll (15 s),
//! so batches that carry `seq` get a 60 s floor. The per-reply watchdog covers a batch waiting
//! for a relay slot for one full batch timeout and then running for another, plus slack for
//! coalescing; it must never fire before the batch layer does, or a session would close on a
//! reply that was still coming.

use std::time::Duration;

use super::params::{PIPELINED_BATCH_TIMEOUT_FLOOR, PIPELINED_REPLY_SLACK};

/// The HTTP timeout of one batch.
pub fn batch_timeout(configured: Duration, carries_seq: bool) -> Duration {
    if carries_seq {
        configured.max(PIPELINED_BATCH_TIMEOUT_FLOOR)
    } else {
        configured
    }
}

/// How long a pipelined session waits for one reply before it closes.
pub fn pipelined_reply_timeout(configured: Duration) -> Duration {
    configured
        .max(PIPELINED_BATCH_TIMEOUT_FLOOR)
        .saturating_mul(2)
        .saturating_add(PIPELINED_REPLY_SLACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn seq_batches_get_the_floor_others_keep_the_configured_timeout() {
        assert_eq!(batch_timeout(S(30), false), S(30));
        assert_eq!(batch_timeout(S(30), true), S(60));
        assert_eq!(batch_timeout(S(59), true), S(60));
        assert_eq!(batch_timeout(S(61), true), S(61));
        assert_eq!(batch_timeout(S(120), false), S(120));
    }

    #[test]
    fn reply_watchdog_defaults_to_135_s_and_follows_the_configured_timeout() {
        assert_eq!(pipelined_reply_timeout(S(30)), S(135));
        assert_eq!(pipelined_reply_timeout(S(60)), S(135));
        assert_eq!(pipelined_reply_timeout(S(120)), S(255));
    }

    #[test]
    fn the_watchdog_never_fires_before_the_batch_layer() {
        for secs in [1, 30, 59, 60, 61, 300] {
            let batch = batch_timeout(S(secs), true);
            assert!(pipelined_reply_timeout(S(secs)) > batch * 2, "{secs}");
        }
    }
}
