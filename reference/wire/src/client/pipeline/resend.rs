//! Carrying a refused op's bytes again in smaller ops (§6.3).
//!
//! When a node refuses a request holding a single `data` op as too large (HTTP 413), that op
//! never ran: the node has not seen its `seq`, and any later op of the session waits for it
//! there. So the same slot is sent again under the same `seq` with as many bytes as now fit,
//! and the rest goes out as the session's next ops, before any new app bytes. That keeps the
//! byte stream exact only while no later op of the session carries bytes, so a payload op is
//! not followed by another one until a node has accepted a request of its size (the *proven*
//! size, shared by the shell across sessions): after the first large op of a process, uploads
//! flow at full depth again.

use std::time::Instant;

use super::{End, OpToken, Pipeline};
use crate::op::BatchOp;

impl Pipeline {
    /// Payloads up to `payload` bytes need no proof (the shell passes what nodes have already
    /// accepted, or a size every node accepts); until this is called nothing is held back.
    pub fn assume_accepted(&mut self, payload: usize) {
        self.proven = payload;
    }

    /// A node accepted a request carrying `payload` raw bytes in one op.
    pub fn accepted(&mut self, payload: usize) {
        self.proven = self.proven.max(payload);
    }

    /// The largest payload known to be accepted.
    pub fn proven(&self) -> usize {
        self.proven
    }

    /// An op whose size no node has accepted yet is unanswered: no payload op may follow it.
    pub(super) fn unproven_in_flight(&self) -> bool {
        self.in_flight
            .iter()
            .any(|f| f.reply.is_none() && f.payload > self.proven)
    }

    /// True while bytes of a refused op wait to be sent again.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Up to `max` bytes of a refused op to send now (before any app bytes), when sending is
    /// allowed.
    pub fn take_pending(&mut self, max: usize) -> Option<Vec<u8>> {
        if self.pending.is_empty() || !self.can_send_bytes() {
            return None;
        }
        let n = max.max(1).min(self.pending.len());
        Some(self.pending.drain(..n).collect())
    }

    /// Ops to submit again after a refusal, with the tokens their replies will carry.
    pub fn take_resends(&mut self) -> Vec<(OpToken, BatchOp)> {
        std::mem::take(&mut self.resends)
    }

    /// The op in slot `pos` was refused as too large: resend its first `max` bytes under the
    /// same `seq` and queue the rest.
    pub(super) fn resend_smaller(&mut self, pos: usize, payload: &[u8], max: usize, now: Instant) {
        let later_bytes = self.in_flight.iter().skip(pos + 1).any(|f| f.payload > 0);
        if later_bytes || max == 0 || payload.is_empty() {
            self.end = Some(End::Failed(format!(
                "the node refused a {}-byte op as too large (HTTP 413) and it cannot be sent again \
                 in order; lower --max-batch-bytes to what the node accepts",
                payload.len()
            )));
            return;
        }
        let (first, rest) = payload.split_at(max.min(payload.len()));
        // The rest came before anything already pending: those bytes were read after it.
        let mut pending = rest.to_vec();
        pending.append(&mut self.pending);
        self.pending = pending;
        let token = self.next_token;
        self.next_token += 1;
        let slot = &mut self.in_flight[pos];
        slot.token = token;
        slot.payload = first.len();
        slot.sent_at = now;
        slot.reply = None;
        let op = BatchOp::data(&self.sid, first, slot.seq);
        self.resends.push((OpToken(token), op));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::PollDue;
    use super::super::tests::{pipelined, reply, written};
    use super::*;
    use crate::b64;
    use crate::client::replies::OpFailure;

    fn refused(bytes: &[u8], max: usize) -> Result<crate::Reply, OpFailure> {
        Err(OpFailure::TooLarge {
            payload: bytes.to_vec(),
            max,
        })
    }

    fn payload(op: &BatchOp) -> Vec<u8> {
        b64::decode(op.d.as_deref().unwrap_or_default()).unwrap()
    }

    #[test]
    fn a_refused_op_goes_again_under_its_seq_and_the_rest_follows_before_app_bytes() {
        let t = Instant::now();
        let mut p = pipelined(t);
        let (a, _) = p.send("s", b"abcdefghij", t);
        let (poll, _) = p.send("s", b"", t);
        assert!(p.on_reply(a, refused(b"abcdefghij", 4), t).is_empty());
        let resends = p.take_resends();
        assert_eq!(resends.len(), 1);
        let (a2, op) = &resends[0];
        assert_eq!((op.seq, payload(op)), (Some(0), b"abcd".to_vec()));
        assert_ne!(a2.0, a.0, "a late reply to the refused request is ignored");
        assert!(p.has_pending());
        assert_eq!(
            p.poll_due(),
            PollDue::Never,
            "pending bytes go before polls"
        );
        // Depth 2 is full (the resend and the poll): the rest waits.
        assert_eq!(p.take_pending(4), None);
        let mut out = p.on_reply(*a2, reply(b"X", Some(0)), t);
        let rest = p.take_pending(4).unwrap();
        assert_eq!(rest, b"efgh");
        let (b, op_b) = p.send("s", &rest, t);
        assert_eq!(op_b.seq, Some(2));
        out.extend(p.on_reply(poll, reply(b"Y", Some(1)), t));
        out.extend(p.on_reply(b, reply(b"", Some(2)), t));
        assert_eq!(p.take_pending(4).unwrap(), b"ij");
        assert!(!p.has_pending());
        assert_eq!(written(&out), b"XY");
        assert!(p.end().is_none());
    }

    #[test]
    fn an_unproven_op_holds_back_the_next_payload_op_until_it_is_answered() {
        let t = Instant::now();
        let mut p = pipelined(t);
        p.assume_accepted(100);
        let (a, _) = p.send("s", &[1; 100], t);
        assert!(p.can_send_bytes(), "100 bytes are known to be accepted");
        let (b, _) = p.send("s", &[2; 500], t);
        p.on_reply(a, reply(b"", Some(0)), t);
        assert!(
            !p.can_send_bytes(),
            "500 bytes were never accepted: hold the next op"
        );
        p.on_reply(b, reply(b"", Some(1)), t);
        assert_eq!(p.proven(), 500);
        p.send("s", &[3; 500], t);
        assert!(p.can_send_bytes());
        p.accepted(10);
        assert_eq!(p.proven(), 500, "the proven size never shrinks");
    }

    #[test]
    fn a_refusal_with_later_bytes_in_flight_ends_the_session_instead_of_reordering() {
        let t = Instant::now();
        let mut p = pipelined(t);
        let (a, _) = p.send("s", b"first", t);
        p.send("s", b"second", t);
        p.on_reply(a, refused(b"first", 2), t);
        assert!(matches!(p.end(), Some(End::Failed(why)) if why.contains("--max-batch-bytes")));
        assert!(p.take_resends().is_empty());
    }

    #[test]
    fn the_app_closing_waits_for_pending_bytes() {
        let t = Instant::now();
        let mut p = pipelined(t);
        let (a, _) = p.send("s", b"0123456789", t);
        p.on_reply(a, refused(b"0123456789", 5), t);
        p.on_app_eof();
        let (a2, _) = p.take_resends().remove(0);
        p.on_reply(a2, reply(b"", Some(0)), t);
        assert!(p.end().is_none(), "five bytes still to send");
        let rest = p.take_pending(5).unwrap();
        let (b, _) = p.send("s", &rest, t);
        p.on_reply(b, reply(b"", Some(1)), t);
        assert_eq!(p.end(), Some(&End::AppDone));
    }
}
