//! One seq'd `data` op (§7.4–§7.7) as a machine: take the turn at the session's gate, then
//! write, wait and drain while holding it.
//!
//! The gate ([`crate::seq_gate::SeqGate`]) decides *whose* turn it is; this machine decides what
//! an op does around its turn: which errors consume the seq (§7.5), when a parked poll is
//! preempted (§7.7), which sessions an active op waits on, and what each outcome answers. It
//! is fed what the executor saw ([`JobInput`]) and names the next I/O ([`JobStep`]), so the
//! node and the in-memory harness run the same decisions. Every [`JobStep::Done`] reply
//! carries the op's `seq` (§7.3); an executor that took the turn passes it on however the
//! machine ends.
//!
//! Replay-safe seq (issue 14) hooks in at this machine's two ends: an arrival can answer with a
//! reply the session still holds for that seq (one more [`Arrival`] case, answered with
//! `Done`), and the `Done` reply of a session that holds replies goes to its gate with the turn,
//! keyed by (sid, seq). Neither end needs a new step for the executor.

use std::time::Duration;

use crate::ops::Job;
use crate::params::NodeParams;
use crate::reply::{OpError, Reply};
use crate::rules::{JobRules, Rules};
use crate::seq_gate::{Arrival, Turn};

pub use self::io::{JobInput, JobStep, TcpDrain, WriteOutcome};

mod io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    DrainingEarly,
    Arriving,
    Preempting,
    Polling,
    WritingBlind,
    Touching,
    Writing,
    WaitingActive,
    Settling,
    WaitingIdle,
    Draining,
    Done,
}

/// The machine of one seq'd op.
#[derive(Debug, Clone)]
pub struct SeqJob {
    sid: String,
    seq: u64,
    /// The op meant to write (`d` non-empty), which makes it active (§7.4).
    active: bool,
    bytes: Result<Vec<u8>, OpError>,
    rules: JobRules,
    touch_polls: bool,
    active_within: Duration,
    idle_within: Duration,
    state: State,
    /// A drain taken before the turn (`drain_before_turn`).
    early: Option<Reply>,
}

impl SeqJob {
    /// The machine of `job` in a batch that is `batch_active` or not.
    pub fn new(job: Job, params: &NodeParams, rules: &Rules, batch_active: bool) -> Self {
        Self {
            active: job.payload.is_present(),
            bytes: job.payload.into_result(),
            sid: job.sid,
            seq: job.seq,
            rules: rules.job,
            touch_polls: rules.touch_tcp_polls,
            active_within: params.active_drain_deadline,
            // An idle poll waits as its batch does: a long-poll unless the batch is active.
            idle_within: params.drain_deadline(batch_active),
            state: State::New,
            early: None,
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Feeds what the executor saw; returns what to do next.
    pub fn step(&mut self, input: JobInput<'_>) -> JobStep {
        match (self.state, input) {
            (State::New, JobInput::Start) => self.start(),
            (State::DrainingEarly, JobInput::Drained(d)) => {
                self.early = Some(self.reply_of(d));
                self.arrive()
            }
            (State::Arriving, JobInput::Arrived(a)) => self.arrived(a),
            (State::Preempting, JobInput::Performed) => self.poll(),
            (State::Polling, JobInput::SessionClosed) => self.done(Reply::gone(&self.sid)),
            (State::Polling, JobInput::Turn(t)) => self.turn(t),
            (State::WritingBlind, JobInput::Performed) => {
                let early = self.early.take().unwrap_or_else(|| Reply::gone(&self.sid));
                self.done(early)
            }
            (State::Touching, JobInput::Performed) => self.write(),
            (State::Writing, JobInput::Wrote(w)) => self.wrote(w),
            (State::WaitingActive, JobInput::Woke(true)) => {
                self.go(State::Settling, JobStep::Settle)
            }
            (State::WaitingActive, JobInput::Woke(false))
            | (State::Settling | State::WaitingIdle, JobInput::Performed) => self.drain(),
            (State::Draining, JobInput::Drained(d)) => {
                let reply = self.reply_of(d);
                self.done(reply)
            }
            (state, input) => self
                .done(OpError::Internal(format!("seq'd op got {input:?} while {state:?}")).into()),
        }
    }

    fn go(&mut self, state: State, step: JobStep) -> JobStep {
        self.state = state;
        step
    }

    fn done(&mut self, reply: Reply) -> JobStep {
        self.state = State::Done;
        JobStep::Done(reply.with_seq(Some(self.seq)))
    }

    fn error(&mut self, e: OpError) -> JobStep {
        self.done(e.into())
    }

    fn start(&mut self) -> JobStep {
        if !self.rules.ordered {
            return self.process();
        }
        if self.rules.bad_payload_before_turn
            && let Err(e) = &self.bytes
        {
            let e = e.clone();
            return self.error(e);
        }
        if self.rules.drain_before_turn {
            let touch = self.touch_polls;
            return self.go(State::DrainingEarly, JobStep::Drain { touch });
        }
        self.arrive()
    }

    fn arrive(&mut self) -> JobStep {
        self.go(State::Arriving, JobStep::Arrive)
    }

    fn poll(&mut self) -> JobStep {
        self.go(State::Polling, JobStep::PollTurn)
    }

    fn arrived(&mut self, a: Arrival) -> JobStep {
        let seq = self.seq;
        match a {
            Arrival::Run => self.holding(),
            Arrival::Duplicate { expected } => self.error(OpError::SeqDuplicate { seq, expected }),
            Arrival::InProgress { expected } => {
                self.error(OpError::SeqInProgress { seq, expected })
            }
            Arrival::Backlog { limit } => self.error(OpError::SeqBacklog { seq, limit }),
            Arrival::Wait { preempt, .. } if preempt && self.rules.preempt_polls => {
                self.go(State::Preempting, JobStep::Preempt)
            }
            Arrival::Wait { .. } => self.poll(),
        }
    }

    fn turn(&mut self, t: Turn) -> JobStep {
        match t {
            Turn::Run => self.holding(),
            Turn::Wait { deadline } => JobStep::AwaitTurn { deadline },
            Turn::TimedOut { expected, waited } => self.error(OpError::SeqTimeout {
                seq: self.seq,
                expected,
                waited,
            }),
        }
    }

    /// The op holds its session's turn.
    fn holding(&mut self) -> JobStep {
        if self.early.is_none() {
            return self.process();
        }
        match &self.bytes {
            Ok(bytes) if !bytes.is_empty() => {
                let bytes = bytes.clone();
                self.go(State::WritingBlind, JobStep::WriteBlind(bytes))
            }
            _ => {
                let early = self.early.take().unwrap_or_else(|| Reply::gone(&self.sid));
                self.done(early)
            }
        }
    }

    /// Write → wait → drain. A poll touches its session too unless polls do not refresh.
    fn process(&mut self) -> JobStep {
        if self.active || self.touch_polls {
            return self.go(State::Touching, JobStep::Touch);
        }
        self.write()
    }

    /// The payload is decoded only now, holding the turn: a bad one still consumes its seq so
    /// the session does not stall behind it (§7.5).
    fn write(&mut self) -> JobStep {
        match std::mem::replace(&mut self.bytes, Ok(Vec::new())) {
            Ok(bytes) => self.go(State::Writing, JobStep::Write(bytes)),
            Err(e) => self.error(e),
        }
    }

    fn wrote(&mut self, w: WriteOutcome) -> JobStep {
        match w {
            WriteOutcome::Closed => self.done(Reply::gone(&self.sid)),
            WriteOutcome::Failed(e) => self.error(OpError::WriteFailed(e)),
            WriteOutcome::Written if self.active => {
                let step = JobStep::WaitActive {
                    within: self.active_within,
                    watch: self.rules.active_watch,
                };
                self.go(State::WaitingActive, step)
            }
            WriteOutcome::Written => {
                let step = JobStep::WaitIdle {
                    within: self.idle_within,
                    preemptible: self.rules.preempt_polls,
                };
                self.go(State::WaitingIdle, step)
            }
        }
    }

    fn drain(&mut self) -> JobStep {
        let touch = self.touch_polls;
        self.go(State::Draining, JobStep::Drain { touch })
    }

    fn reply_of(&self, d: TcpDrain<'_>) -> Reply {
        match d {
            TcpDrain::Closed => Reply::gone(&self.sid),
            TcpDrain::Bytes { bytes, eof } => Reply::drained(&self.sid, bytes, eof),
            TcpDrain::Omitted => Reply::drained(&self.sid, b"", false),
        }
    }
}

#[cfg(test)]
mod tests;
