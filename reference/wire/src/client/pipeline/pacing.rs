//! When a session sends (§6.5, §7.8): the poll ladder, polls while downlink flows, the slot for
//! app bytes, and which ops are *prompt* (fire their batch within `coalesce_prompt`, §6.3).
//!
//! Three rules, each from a measurement (bench/README.md):
//!
//! - **Idle costs one poll.** With nothing in flight a session waits for the app along the
//!   read ladder (20, 80, 200, 500 ms) and then polls; while that poll is out it sends no other
//!   poll. An idle pipelined session costs exactly the relay calls of a legacy one.
//! - **Polls while downlink flows follow what the node had.** After a reply that carried bytes
//!   a pipelined session keeps `polls_wanted` polls out. It starts at one and grows by one for
//!   every poll answered with bytes, up to `depth` where the node preempts parked polls (`caps`
//!   bit 2, §7.7) and to one elsewhere: without preemption each poll that finds nothing parks
//!   for a long-poll deadline, one after the other, and the session's next write waits behind
//!   all of them (a seqtun client against a deployed #903 node paces as before). Up to depth: a download that fills every reply ramps to
//!   `depth` polls in a few round trips (one per doubling), as TCP's slow start does. A poll
//!   answered empty means the node had nothing left, so it drops back to one. A window-limited
//!   flow (the app must answer before the origin sends more) never ramps: its polls come back
//!   empty, so it keeps a single poll beside its writes and costs no extra relay calls. The
//!   previous rule, `depth - 1` polls, made the default depth 2 download exactly like legacy.
//! - **Polls never hold back app bytes.** App bytes go at once when fewer than `depth` ops are
//!   out, and also when every op out is a poll (so at most `depth + 1` ops): the node's poll
//!   preemption (§7.7) answers the polls ahead of the write, so the write reaches the origin one
//!   relay round trip after the app sent it, whatever the polls were doing.
//!
//! An op is prompt when it carries app bytes or is a poll while downlink flows (and, in the
//! shell, when it opens a session): someone is waiting for it, so its batch should not sit out
//! a 200 ms coalescing window that every call of a download would pay again (the first
//! measurement: 0.22 s per call with no relay latency at all). Idle polls and closes stay on
//! the coalescing window, where sharing a call is what counts.

use super::{Mode, Pipeline, PollDue};
use crate::client::params::READ_LADDER;

impl Pipeline {
    pub(super) fn depth(&self) -> usize {
        match self.mode {
            Mode::Legacy => 1,
            Mode::Pipelined { depth, .. } => depth.max(1),
        }
    }

    /// Most polls kept out while downlink flows: `depth` where the node preempts parked polls,
    /// else one (each extra poll could hold the next write for a long-poll deadline).
    fn max_polls(&self) -> usize {
        match self.mode {
            Mode::Pipelined { preempts: true, .. } => self.depth(),
            _ => 1,
        }
    }

    /// Polls sent and not yet delivered.
    pub(super) fn polls_out(&self) -> usize {
        self.in_flight.iter().filter(|f| f.payload == 0).count()
    }

    /// Ops carrying bytes, sent and not yet delivered.
    fn writes_out(&self) -> usize {
        self.in_flight.len() - self.polls_out()
    }

    /// Polls this session keeps out while downlink flows (1 ..= depth).
    pub fn polls_wanted(&self) -> usize {
        self.polls_wanted
    }

    /// A poll's reply was delivered: it carried bytes (`had_bytes`) or not.
    pub(super) fn on_poll_answered(&mut self, had_bytes: bool) {
        self.polls_wanted = if had_bytes {
            (self.polls_wanted + 1).min(self.max_polls())
        } else {
            1
        };
    }

    /// True when bytes (the app's, or [`Self::take_pending`]'s) may be sent now.
    pub fn can_send_bytes(&self) -> bool {
        let out = self.in_flight.len();
        let room = out < self.depth()
            || (self.mode.is_pipelined() && self.writes_out() == 0 && out <= self.depth());
        self.end.is_none()
            && (!self.app_closed || !self.pending.is_empty())
            && room
            && !self.unproven_in_flight()
    }

    /// When the next empty poll should be sent.
    pub fn poll_due(&self) -> PollDue {
        if self.end.is_some() || self.app_closed || !self.pending.is_empty() {
            return PollDue::Never;
        }
        let flowing = self.mode.is_pipelined() && self.last_reply_had_bytes;
        if flowing && self.polls_out() < self.polls_wanted && self.in_flight.len() < self.depth() {
            PollDue::Now
        } else if self.in_flight.is_empty() {
            let step = self.consecutive_empty.min(READ_LADDER.len() - 1);
            PollDue::At(self.quiet_since + READ_LADDER[step])
        } else {
            PollDue::Never
        }
    }

    /// True when the op about to be sent with `bytes` should go promptly: it carries bytes,
    /// or it is a poll while downlink flows. Idle polls are not prompt, and neither are a
    /// pipelined session's polls when the node does not preempt: such a poll must share its
    /// call with the write the app is about to send (a window's ack), because alone in a call
    /// it parks for a long-poll deadline and holds that write behind it (measured: 32
    /// windowed sessions at 0.37× legacy against a node without preemption).
    pub fn is_prompt(&self, bytes: &[u8]) -> bool {
        let poll_may_hurry = match self.mode {
            Mode::Legacy => true,
            Mode::Pipelined { preempts, .. } => preempts,
        };
        !bytes.is_empty() || (self.last_reply_had_bytes && poll_may_hurry)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::tests::{reply, with_depth};
    use super::*;

    #[test]
    fn polls_ramp_to_depth_while_every_poll_brings_bytes() {
        let t = Instant::now();
        let mut p = with_depth(4, t);
        let (a, _) = p.send("s", b"", t);
        p.on_reply(a, reply(b"x", Some(0)), t);
        let mut seq = 1;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let mut round = Vec::new();
            while p.poll_due() == PollDue::Now {
                round.push(p.send("s", b"", t).0);
            }
            seen.push(round.len());
            for tok in round {
                p.on_reply(tok, reply(b"x", Some(seq)), t);
                seq += 1;
            }
        }
        assert_eq!(seen, [2, 4, 4, 4], "one poll per poll answered with bytes");
        assert_eq!(p.polls_wanted(), 4);
    }

    #[test]
    fn an_empty_poll_drops_back_to_one() {
        let t = Instant::now();
        let mut p = with_depth(8, t);
        let (a, _) = p.send("s", b"", t);
        p.on_reply(a, reply(b"x", Some(0)), t);
        let (b, _) = p.send("s", b"", t);
        let (c, _) = p.send("s", b"", t);
        p.on_reply(b, reply(b"x", Some(1)), t);
        assert_eq!(p.polls_wanted(), 3);
        p.on_reply(c, reply(b"", Some(2)), t);
        assert_eq!(p.polls_wanted(), 1);
        assert!(matches!(p.poll_due(), PollDue::At(_)), "idle again");
    }

    #[test]
    fn a_write_answered_with_bytes_does_not_grow_the_polls() {
        // A window-limited flow: each window answers the app's write; the poll beside it comes
        // back empty. It must keep one poll, or its extra polls would cost relay calls.
        let t = Instant::now();
        let mut p = with_depth(4, t);
        for round in 0..3u64 {
            let (w, _) = p.send("s", b"ack", t);
            p.on_reply(w, reply(b"window", Some(2 * round)), t);
            assert_eq!(p.poll_due(), PollDue::Now);
            let (poll, _) = p.send("s", b"", t);
            assert_eq!(p.poll_due(), PollDue::Never, "one poll beside the writes");
            p.on_reply(poll, reply(b"", Some(2 * round + 1)), t);
            assert_eq!(p.polls_wanted(), 1);
        }
    }

    #[test]
    fn app_bytes_get_a_slot_beside_a_full_set_of_polls_but_not_beside_writes() {
        let t = Instant::now();
        let mut p = with_depth(2, t);
        let (a, _) = p.send("s", b"", t);
        p.on_reply(a, reply(b"x", Some(0)), t);
        p.send("s", b"", t);
        p.send("s", b"", t);
        assert_eq!(p.in_flight(), 2);
        assert_eq!(p.poll_due(), PollDue::Never);
        assert!(p.can_send_bytes(), "polls never hold back a write");
        p.send("s", b"GET /", t);
        assert_eq!(p.in_flight(), 3);
        assert!(!p.can_send_bytes(), "one write beyond the polls, no more");

        let mut up = with_depth(2, t);
        up.send("s", b"1", t);
        up.send("s", b"2", t);
        assert!(!up.can_send_bytes(), "writes alone stay within depth");
    }

    #[test]
    fn without_preemption_one_poll_at_a_time_while_bytes_flow() {
        let t = Instant::now();
        let mut p = Pipeline::new(
            Mode::Pipelined {
                depth: 4,
                preempts: false,
            },
            &crate::client::ClientParams::default(),
            &crate::client::ClientFaults::default(),
            t,
        );
        for seq in 0..3 {
            assert!(matches!(p.poll_due(), PollDue::Now | PollDue::At(_)));
            let (tok, _) = p.send("s", b"", t);
            assert_eq!(p.poll_due(), PollDue::Never, "one poll out");
            assert!(p.can_send_bytes(), "a write still goes beside it");
            p.on_reply(tok, reply(b"x", Some(seq)), t);
            assert_eq!(p.polls_wanted(), 1);
        }
    }

    #[test]
    fn legacy_never_takes_the_extra_slot() {
        let t = Instant::now();
        let mut p = super::super::tests::legacy(t);
        p.send("s", b"", t);
        assert!(!p.can_send_bytes());
    }

    #[test]
    fn prompt_ops_are_app_bytes_and_polls_while_bytes_flow() {
        let t = Instant::now();
        let mut p = with_depth(2, t);
        assert!(p.is_prompt(b"x"));
        assert!(!p.is_prompt(b""), "an idle poll waits for company");
        let (a, _) = p.send("s", b"", t + Duration::from_millis(20));
        p.on_reply(a, reply(b"data", Some(0)), t);
        assert!(p.is_prompt(b""), "a poll after bytes is awaited");
        let (b, _) = p.send("s", b"", t);
        p.on_reply(b, reply(b"", Some(1)), t);
        assert!(!p.is_prompt(b""));

        let mut l = super::super::tests::legacy(t);
        let (a, _) = l.send("s", b"", t);
        l.on_reply(a, reply(b"data", None), t);
        assert!(l.is_prompt(b""), "legacy downloads are prompt too");

        let mut n = Pipeline::new(
            Mode::Pipelined {
                depth: 2,
                preempts: false,
            },
            &crate::client::ClientParams::default(),
            &crate::client::ClientFaults::default(),
            t,
        );
        let (a, _) = n.send("s", b"", t);
        n.on_reply(a, reply(b"data", Some(0)), t);
        assert!(
            !n.is_prompt(b""),
            "without preemption a poll waits to share its call with the app's answer"
        );
        assert!(n.is_prompt(b"ack"));
    }
}
