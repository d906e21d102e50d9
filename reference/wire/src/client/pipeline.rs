//! One session's `data` loop after open: legacy (§6.5) or pipelined (§7.8), with half-close
//! (§7.9) and the reply watchdog (§6.6).
//!
//! The machine decides when the app may be read, when a poll is due, which `seq` an op gets,
//! and which reply bytes may be written to the app and when. Replies may arrive in any order
//! (different batches, different relays); bytes are released strictly in op order, and a reply
//! that breaks the contract (wrong `seq`, no `seq`, `e`) ends the session before any of its
//! bytes are written, because a stream with a hole is worse than a closed one.
//!
//! Pacing (when a poll is due, when app bytes may go, which ops are prompt) is in [`pacing`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::op::BatchOp;

use super::faults::ClientFaults;
use super::negotiate::Mode;
use super::params::ClientParams;
use super::replies::{OpFailure, OpResult};
use super::retry::RetryBudget;
use super::timeouts::pipelined_reply_timeout;

/// Identifies one op of a session; hand it back with the op's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpToken(pub u64);

/// Something the shell must do for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the app, in the order events are returned.
    Write(Vec<u8>),
}

/// Why a session ended. After an end no further bytes are released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum End {
    #[error("the app closed its side and every reply in flight was delivered")]
    AppDone,
    #[error("the app closed the connection")]
    AppGone,
    #[error("the node reported eof")]
    Eof,
    #[error("the node reported an error: {0}")]
    NodeError(String),
    #[error("the batch failed: {0}")]
    Failed(String),
    #[error("reply seq {got} does not match op seq {expected}")]
    WrongSeq { expected: u64, got: u64 },
    #[error("reply to seq {expected} carries no seq: a node on the path does not order")]
    MissingSeq { expected: u64 },
    #[error("no reply within {0:?}")]
    ReplyTimeout(Duration),
    #[error("reply payload is not valid base64: {0}")]
    BadPayload(String),
    #[error("seq space exhausted")]
    SeqExhausted,
}

/// When the next poll is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDue {
    Now,
    At(Instant),
    Never,
}

#[derive(Debug)]
struct InFlight {
    token: u64,
    seq: Option<u64>,
    sent_at: Instant,
    reply: Option<OpResult>,
    /// Raw payload bytes the op carries.
    payload: usize,
    /// The payload itself, kept only on a replay-safe session (it may be sent again, §7.10).
    bytes: Vec<u8>,
    /// When the op was first sent, and how many times it was sent again since.
    first_sent: Instant,
    resent: u32,
    /// When the op goes again, while a retry is scheduled.
    retry_at: Option<Instant>,
}

/// The state of one session's `data` loop.
#[derive(Debug)]
pub struct Pipeline {
    mode: Mode,
    faults: ClientFaults,
    reply_timeout: Duration,
    next_token: u64,
    next_seq: u64,
    in_flight: VecDeque<InFlight>,
    last_reply_had_bytes: bool,
    /// Polls kept out while downlink flows: grows by one per poll answered with bytes (up to
    /// `depth`), back to one when a poll comes back empty (see [`pacing`]).
    polls_wanted: usize,
    consecutive_empty: usize,
    quiet_since: Instant,
    app_closed: bool,
    end: Option<End>,
    downgrade: bool,
    /// The session id, from the last op sent (resends need it).
    sid: String,
    /// Largest payload a node is known to accept in a request of its own (§6.3).
    proven: usize,
    /// Bytes of a refused op still to send, before any new app bytes.
    pending: Vec<u8>,
    /// Ops to submit again: smaller after the node refused them as too large, or the same op
    /// after its batch failed on a replay-safe session.
    resends: Vec<(OpToken, BatchOp)>,
    /// The retry budget of a replay-safe session (§7.10); `None`: nothing is sent twice.
    replay: Option<RetryBudget>,
    /// Ops sent again so far (the shell's stats).
    retried: u64,
}

impl Pipeline {
    /// A session that has just opened at `now`.
    pub fn new(mode: Mode, params: &ClientParams, faults: &ClientFaults, now: Instant) -> Self {
        let reply_timeout = match mode {
            Mode::Legacy => params.legacy_reply_timeout,
            Mode::Pipelined { .. } => pipelined_reply_timeout(params.request_timeout),
        };
        Self {
            mode,
            faults: faults.clone(),
            reply_timeout,
            next_token: 0,
            next_seq: 0,
            in_flight: VecDeque::new(),
            last_reply_had_bytes: false,
            polls_wanted: 1,
            consecutive_empty: 0,
            quiet_since: now,
            app_closed: false,
            end: None,
            downgrade: false,
            sid: String::new(),
            proven: usize::MAX,
            pending: Vec::new(),
            resends: Vec::new(),
            replay: None,
            retried: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Ops sent and not yet delivered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Why the session ended, once it has.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Sends `bytes` (empty: a poll) on session `sid`. Call only when [`Self::can_send_bytes`]
    /// or a poll is due.
    pub fn send(&mut self, sid: &str, bytes: &[u8], now: Instant) -> (OpToken, BatchOp) {
        let seq = match self.mode {
            Mode::Legacy => None,
            Mode::Pipelined { .. } => Some(self.next_seq),
        };
        if seq.is_some() {
            match self.next_seq.checked_add(1) {
                Some(next) => self.next_seq = next,
                None => self.end = Some(End::SeqExhausted),
            }
        }
        let token = self.next_token;
        self.next_token += 1;
        let keep = self.replay.is_some();
        self.in_flight.push_back(InFlight {
            token,
            seq,
            sent_at: now,
            reply: None,
            payload: bytes.len(),
            bytes: if keep { bytes.to_vec() } else { Vec::new() },
            first_sent: now,
            resent: 0,
            retry_at: None,
        });
        if self.sid != sid {
            self.sid = sid.to_string();
        }
        let mut op = BatchOp::data(sid, bytes, seq);
        op.ack = self.current_ack();
        (OpToken(token), op)
    }

    /// The app closed its side: no new ops; replies in flight are still delivered (§7.9).
    pub fn on_app_eof(&mut self) {
        self.app_closed = true;
        if self.in_flight.is_empty() && self.pending.is_empty() && self.end.is_none() {
            self.end = Some(End::AppDone);
        }
    }

    /// True once, after a pipelined reply without `seq`: disable pipelining process-wide.
    pub fn take_downgrade(&mut self) -> bool {
        std::mem::take(&mut self.downgrade)
    }

    /// Takes the reply to op `token` and returns the bytes now releasable, in order.
    pub fn on_reply(&mut self, token: OpToken, result: OpResult, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if self.end.is_some() {
            return events;
        }
        let Some(pos) = self.in_flight.iter().position(|f| f.token == token.0) else {
            return events;
        };
        if self.in_flight[pos].reply.is_some() {
            // A later copy of a reply already taken (§7.10: the first wins).
            return events;
        }
        if self.retry(pos, &result, now) {
            return events;
        }
        let result = match result {
            Err(OpFailure::TooLarge { payload, max }) => {
                self.resend_smaller(pos, &payload, max, now);
                return events;
            }
            Ok(reply) => {
                self.proven = self.proven.max(self.in_flight[pos].payload);
                Ok(reply)
            }
            other => other,
        };
        self.in_flight[pos].reply = Some(result);
        if self.faults.unordered_delivery {
            if let Some(slot) = self.in_flight.remove(pos) {
                self.deliver(slot, &mut events);
            }
        } else {
            while self.end.is_none() && self.in_flight.front().is_some_and(|f| f.reply.is_some()) {
                if let Some(slot) = self.in_flight.pop_front() {
                    self.deliver(slot, &mut events);
                }
            }
        }
        if self.in_flight.is_empty() {
            self.quiet_since = now;
            if self.app_closed && self.pending.is_empty() && self.end.is_none() {
                self.end = Some(End::AppDone);
            }
        }
        events
    }

    fn deliver(&mut self, slot: InFlight, events: &mut Vec<Event>) {
        let reply = match slot.reply {
            Some(Ok(reply)) => reply,
            Some(Err(failure)) => {
                self.end = Some(End::Failed(failure.to_string()));
                return;
            }
            None => return,
        };
        if let Some(expected) = slot.seq {
            match reply.seq {
                None if !self.faults.ignore_missing_seq => {
                    self.downgrade = true;
                    self.end = Some(End::MissingSeq { expected });
                    return;
                }
                Some(got) if got != expected => {
                    self.end = Some(End::WrongSeq { expected, got });
                    return;
                }
                _ => {}
            }
        }
        if let Some(e) = reply.e {
            self.end = Some(End::NodeError(e));
            return;
        }
        let bytes = match crate::b64::decode(reply.d.as_deref().unwrap_or_default()) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.end = Some(End::BadPayload(e.to_string()));
                return;
            }
        };
        self.last_reply_had_bytes = !bytes.is_empty();
        if slot.payload == 0 {
            self.on_poll_answered(!bytes.is_empty());
        }
        if bytes.is_empty() {
            self.consecutive_empty += 1;
        } else {
            self.consecutive_empty = 0;
            events.push(Event::Write(bytes));
        }
        if reply.eof == Some(true) {
            self.end = Some(End::Eof);
        }
    }

    /// Decoded bytes of the replies that wait for an earlier seq's reply (the reorder buffer).
    pub fn held_bytes(&self) -> usize {
        self.in_flight
            .iter()
            .filter_map(|f| match &f.reply {
                Some(Ok(r)) => r.d.as_deref().map(crate::b64::decoded_len),
                _ => None,
            })
            .sum()
    }

    /// When the oldest unanswered op times out.
    pub fn deadline(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        self.in_flight
            .iter()
            .filter(|f| f.reply.is_none())
            .map(|f| f.retry_at.unwrap_or(f.sent_at + self.reply_timeout))
            .min()
    }

    /// Sends again the ops whose retry is due ([`Self::take_resends`]); ends the session if an
    /// op waited past its deadline. Never skips to a later reply.
    pub fn on_tick(&mut self, now: Instant) {
        self.resend_due(now);
        let timed_out = self.in_flight.iter().any(|f| {
            f.reply.is_none() && f.retry_at.is_none() && f.sent_at + self.reply_timeout <= now
        });
        if self.end.is_none() && timed_out {
            self.end = Some(End::ReplyTimeout(self.reply_timeout));
        }
    }
}

mod pacing;
mod resend;
mod retry;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
