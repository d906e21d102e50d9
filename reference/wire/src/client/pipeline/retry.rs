//! Sending an op of a replay-safe session again (§7.10).
//!
//! A node that set `caps` bit 1 holds each processed seq's reply until an `ack` above it, so
//! the same seq with the same payload either runs once (the first copy never arrived) or gets
//! the first copy's answer back (it ran and the answer was lost). The session keeps each op's
//! payload while it is unanswered, and when the op's batch fails as a whole (or the node says
//! the op waited out its turn) it schedules the same op again after a backoff, within the
//! session's [`RetryBudget`]. The reply slot stays where it was, so bytes are still released
//! strictly in seq order, and the first reply a slot gets wins.

use std::time::Instant;

use super::{OpToken, Pipeline};
use crate::client::replies::OpResult;
use crate::client::retry::{RetryBudget, retryable};
use crate::op::BatchOp;

impl Pipeline {
    /// Makes the session replay-safe: its ops carry `ack` and a failed op goes again within
    /// `budget`. Call before the first op; only for a session whose connect reply had `caps`
    /// bits 0 and 1 ([`crate::client::negotiate::replay_safe`]).
    pub fn make_replay_safe(&mut self, budget: RetryBudget) {
        self.replay = Some(budget);
    }

    /// True when failed ops of this session are sent again.
    pub fn is_replay_safe(&self) -> bool {
        self.replay.is_some()
    }

    /// Ops sent again so far.
    pub fn retried(&self) -> u64 {
        self.retried
    }

    /// The `ack` an op sent now carries: the replies of every seq below it are here (taken,
    /// delivered or waiting for an earlier one). `None` on a session that is not replay-safe.
    pub(super) fn current_ack(&self) -> Option<u64> {
        self.replay?;
        let unanswered = self
            .in_flight
            .iter()
            .filter(|f| f.reply.is_none())
            .filter_map(|f| f.seq)
            .min();
        Some(unanswered.unwrap_or(self.next_seq))
    }

    /// Schedules slot `pos` to go again when `result` may be cured that way and the budget
    /// allows; true when it did (the result is then dropped).
    pub(super) fn retry(&mut self, pos: usize, result: &OpResult, now: Instant) -> bool {
        let Some(mut budget) = self.replay else {
            return false;
        };
        if self.faults.retry_beyond_budget {
            budget = RetryBudget {
                max: u32::MAX,
                within: std::time::Duration::MAX,
            };
        }
        let slot = &mut self.in_flight[pos];
        if slot.seq.is_none() || !retryable(result) {
            return false;
        }
        match budget.next(slot.resent, slot.first_sent, now) {
            Some(at) => {
                slot.retry_at = Some(at);
                true
            }
            None => false,
        }
    }

    /// Moves the ops whose retry is due to the resends, under their seq, payload and token,
    /// with a current `ack`.
    pub(super) fn resend_due(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        let ack = self.current_ack();
        for slot in &mut self.in_flight {
            if slot.retry_at.is_none_or(|at| at > now) {
                continue;
            }
            slot.retry_at = None;
            slot.resent += 1;
            slot.sent_at = now;
            if self.faults.retry_with_new_seq {
                slot.seq = Some(self.next_seq);
                self.next_seq += 1;
            }
            let mut op = BatchOp::data(&self.sid, &slot.bytes, slot.seq);
            op.ack = ack;
            self.resends.push((OpToken(slot.token), op));
            self.retried += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::End;
    use super::super::tests::{pipelined, reply, written};
    use super::*;
    use crate::b64;
    use crate::client::replies::OpFailure;
    use crate::client::retry::{RETRY_BACKOFF_FIRST, RETRY_MAX};

    fn safe(t: Instant) -> Pipeline {
        let mut p = pipelined(t);
        p.make_replay_safe(RetryBudget::default());
        p
    }

    fn dropped() -> OpResult {
        Err(OpFailure::Batch("relay timeout".into()))
    }

    fn payload(op: &BatchOp) -> Vec<u8> {
        b64::decode(op.d.as_deref().unwrap_or_default()).unwrap()
    }

    #[test]
    fn a_failed_op_goes_again_with_its_seq_payload_and_token_after_the_backoff() {
        let t = Instant::now();
        let mut p = safe(t);
        let (a, op) = p.send("s", b"abc", t);
        assert_eq!(op.ack, Some(0));
        assert!(p.on_reply(a, dropped(), t).is_empty());
        assert!(p.end().is_none(), "the session lives on");
        assert!(p.take_resends().is_empty(), "not before the backoff");
        assert_eq!(p.deadline(), Some(t + RETRY_BACKOFF_FIRST));
        p.on_tick(t + RETRY_BACKOFF_FIRST);
        let resends = p.take_resends();
        assert_eq!(resends.len(), 1);
        let (token, again) = &resends[0];
        assert_eq!(
            (*token, again.seq, payload(again)),
            (a, Some(0), b"abc".to_vec())
        );
        let out = p.on_reply(a, reply(b"X", Some(0)), t + RETRY_BACKOFF_FIRST);
        assert_eq!(written(&out), b"X");
        assert_eq!(p.retried(), 1);
    }

    #[test]
    fn ack_names_the_first_seq_whose_reply_is_missing() {
        let t = Instant::now();
        let mut p = safe(t);
        let (a, _) = p.send("s", b"", t);
        let (_b, op) = p.send("s", b"", t);
        assert_eq!(op.ack, Some(0), "seq 0 is unanswered");
        p.on_reply(a, reply(b"", Some(0)), t);
        let (_, op) = p.send("s", b"", t);
        assert_eq!(op.ack, Some(1), "seq 0 answered, seq 1 not");
    }

    #[test]
    fn replies_stay_in_seq_order_across_a_retry_and_the_first_reply_wins() {
        let t = Instant::now();
        let mut p = safe(t);
        let (a, _) = p.send("s", b"", t);
        let (b, _) = p.send("s", b"", t);
        p.on_reply(a, dropped(), t);
        assert!(
            p.on_reply(b, reply(b"2", Some(1)), t).is_empty(),
            "held behind seq 0"
        );
        p.on_tick(t + RETRY_BACKOFF_FIRST);
        assert_eq!(p.take_resends().len(), 1);
        let out = p.on_reply(a, reply(b"1", Some(0)), t);
        assert_eq!(written(&out), b"12");
        assert!(p.on_reply(b, reply(b"late", Some(1)), t).is_empty());
        assert!(p.end().is_none());
    }

    #[test]
    fn the_budget_ends_the_session_as_before() {
        let mut now = Instant::now();
        let mut p = safe(now);
        let (a, _) = p.send("s", b"x", now);
        for _ in 0..RETRY_MAX {
            p.on_reply(a, dropped(), now);
            now += Duration::from_secs(5);
            p.on_tick(now);
            assert_eq!(p.take_resends().len(), 1);
        }
        p.on_reply(a, dropped(), now);
        assert!(matches!(p.end(), Some(End::Failed(_))), "{:?}", p.end());
        assert_eq!(p.retried(), u64::from(RETRY_MAX));
    }

    #[test]
    fn without_bit_1_nothing_is_retried_and_no_ack_is_sent() {
        let t = Instant::now();
        let mut p = pipelined(t);
        let (a, op) = p.send("s", b"x", t);
        assert_eq!(op.ack, None);
        p.on_reply(a, dropped(), t);
        assert!(matches!(p.end(), Some(End::Failed(_))));
        p.on_tick(t + Duration::from_secs(5));
        assert!(p.take_resends().is_empty());
    }

    #[test]
    fn other_node_errors_are_not_retried() {
        let t = Instant::now();
        let mut p = safe(t);
        let (a, _) = p.send("s", b"x", t);
        let mut r = crate::Reply {
            e: Some("write failed: broken pipe".into()),
            seq: Some(0),
            ..Default::default()
        };
        p.on_reply(a, Ok(r.clone()), t);
        assert!(matches!(p.end(), Some(End::NodeError(_))));
        let mut p = safe(t);
        let (a, _) = p.send("s", b"x", t);
        r.e = Some("seq 0 timed out waiting".into());
        r.code = Some(crate::CODE_SEQ_TIMEOUT.into());
        p.on_reply(a, Ok(r), t);
        assert!(p.end().is_none(), "SEQ_TIMEOUT goes again");
    }
}
