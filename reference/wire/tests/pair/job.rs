//! A seq'd op at the simulated node: the wire's [`SeqJob`] names each step, and this performs
//! it on the simulated session, or records what the op is blocked on until it can move.

use std::time::Instant;

use seqtun_wire::Reply;
use seqtun_wire::drain::{Settle, SettleStep};
use seqtun_wire::node::{JobInput, JobStep, SeqJob, TcpDrain, WriteOutcome};
use seqtun_wire::rules::{Spent, Watch};
use seqtun_wire::seq_gate::{Arrival, Turn};

use crate::batch::{Shared, drain};
use crate::node::SimNode;

/// Where a seq'd op's machine is blocked.
enum Block {
    /// Perform this step now.
    Step(JobStep),
    Turn {
        until: Instant,
    },
    Active {
        until: Instant,
        watch: Vec<String>,
    },
    Settle {
        settle: Settle,
        next: Instant,
    },
    Idle {
        until: Instant,
        parked_at: Option<u64>,
    },
    Done,
}

pub struct Job {
    pub slot: usize,
    sid: String,
    machine: SeqJob,
    holds_turn: bool,
    block: Block,
    /// The op's reply, once, for the batch to collect.
    pub reply: Option<Reply>,
}

impl Job {
    pub fn new(slot: usize, sid: String, mut machine: SeqJob) -> Self {
        let first = machine.step(JobInput::Start);
        Self {
            slot,
            sid,
            machine,
            holds_turn: false,
            block: Block::Step(first),
            reply: None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.block, Block::Done)
    }

    pub fn next_wakeup(&self) -> Option<Instant> {
        match &self.block {
            Block::Turn { until } | Block::Active { until, .. } | Block::Idle { until, .. } => {
                Some(*until)
            }
            Block::Settle { next, .. } => Some(*next),
            Block::Step(_) | Block::Done => None,
        }
    }

    fn feed(&mut self, input: JobInput<'_>) -> Block {
        Block::Step(self.machine.step(input))
    }

    /// Moves the op as far as it can go at `now`; true if it moved.
    pub fn advance(&mut self, node: &mut SimNode, shared: &mut Shared, now: Instant) -> bool {
        let mut moved = false;
        loop {
            let block = std::mem::replace(&mut self.block, Block::Done);
            let next = match block {
                Block::Done => return moved,
                Block::Step(step) => Some(self.perform(step, node, shared, now)),
                blocked => self.look(blocked, node, shared, now),
            };
            match next {
                Some(next) => {
                    self.block = next;
                    moved = true;
                }
                None => return moved,
            }
        }
    }

    /// Looks again at what the op is blocked on; `None` (block kept) if nothing changed.
    fn look(
        &mut self,
        block: Block,
        node: &mut SimNode,
        s: &mut Shared,
        now: Instant,
    ) -> Option<Block> {
        let ready = |node: &SimNode, w: &[String]| node.ready(w);
        let (next, kept) = match block {
            Block::Turn { until } => {
                let input = if node.session(&self.sid).closed {
                    JobInput::SessionClosed
                } else {
                    let turn = node.gate(&self.sid).poll(self.machine.seq(), now);
                    self.holds_turn |= turn == Turn::Run;
                    JobInput::Turn(turn)
                };
                match self.machine.step(input) {
                    // Still waiting for the same instant: nothing moved.
                    JobStep::AwaitTurn { deadline } if deadline == until => {
                        (None, Block::Turn { until })
                    }
                    step => (Some(Block::Step(step)), Block::Done),
                }
            }
            Block::Active { until, watch } if ready(node, &watch) || now >= until => (
                Some(self.feed(JobInput::Woke(ready(node, &watch)))),
                Block::Done,
            ),
            Block::Settle { mut settle, next } if now >= next => {
                let own = std::slice::from_ref(&self.sid);
                match settle.observe(now, node.buffered(own)) {
                    SettleStep::WaitUntil(next) => (None, Block::Settle { settle, next }),
                    SettleStep::Done => (Some(self.feed(JobInput::Performed)), Block::Done),
                }
            }
            Block::Idle { until, parked_at } => {
                let woke = s.wake_on_ready && (s.woken || ready(node, &s.batch_set));
                let preempted = parked_at.is_some_and(|e| node.session(&self.sid).preempts != e);
                if !woke && !preempted && now < until {
                    (None, Block::Idle { until, parked_at })
                } else {
                    s.woken |= woke;
                    if parked_at.is_some() {
                        node.gate(&self.sid).unpark(self.machine.seq());
                    }
                    (Some(self.feed(JobInput::Performed)), Block::Done)
                }
            }
            other => (None, other),
        };
        if next.is_none() {
            self.block = kept;
        }
        next
    }

    /// Performs one step of the machine at `now`.
    fn perform(
        &mut self,
        step: JobStep,
        node: &mut SimNode,
        s: &mut Shared,
        now: Instant,
    ) -> Block {
        let (seq, sid) = (self.machine.seq(), self.sid.clone());
        let closed = node.session(&sid).closed;
        match step {
            JobStep::Done(reply) => {
                if std::mem::take(&mut self.holds_turn) {
                    node.gate(&sid).finish(seq);
                }
                self.reply = Some(reply);
                Block::Done
            }
            JobStep::Drain { touch } => {
                match drain(node, &mut s.ledger, &sid, (touch, Spent::Placeholder), now) {
                    Some(Some((bytes, eof))) => {
                        self.feed(JobInput::Drained(TcpDrain::Bytes { bytes: &bytes, eof }))
                    }
                    _ => self.feed(JobInput::Drained(TcpDrain::Closed)),
                }
            }
            JobStep::Arrive => {
                let arrival = node.gate(&sid).arrive(seq, now);
                self.holds_turn |= arrival == Arrival::Run;
                self.feed(JobInput::Arrived(arrival))
            }
            JobStep::Preempt => {
                node.session_mut(&sid).preempts += 1;
                self.feed(JobInput::Performed)
            }
            JobStep::PollTurn => Block::Turn { until: now },
            JobStep::AwaitTurn { deadline } => Block::Turn { until: deadline },
            JobStep::Touch => {
                node.touch(&sid, now);
                self.feed(JobInput::Performed)
            }
            JobStep::Write(_) if closed => self.feed(JobInput::Wrote(WriteOutcome::Closed)),
            JobStep::Write(bytes) => {
                node.write(&sid, &bytes, now);
                self.feed(JobInput::Wrote(WriteOutcome::Written))
            }
            JobStep::WriteBlind(bytes) => {
                node.write(&sid, &bytes, now);
                self.feed(JobInput::Performed)
            }
            JobStep::WaitActive { within, watch } => Block::Active {
                until: now + within,
                watch: match watch {
                    Watch::Own => vec![sid],
                    Watch::Batch => s.batch_set.clone(),
                },
            },
            JobStep::Settle => {
                let p = &node.params;
                let settle = Settle::start(now, node.buffered(&[sid]), p.settle_step, p.settle_max);
                match settle.first_check(now) {
                    SettleStep::WaitUntil(next) => Block::Settle { settle, next },
                    SettleStep::Done => self.feed(JobInput::Performed),
                }
            }
            JobStep::WaitIdle {
                within,
                preemptible,
            } => {
                let until = now + within;
                if !preemptible {
                    Block::Idle {
                        until,
                        parked_at: None,
                    }
                } else if node.gate(&sid).park(seq) {
                    let parked_at = Some(node.session(&sid).preempts);
                    Block::Idle { until, parked_at }
                } else {
                    self.feed(JobInput::Performed)
                }
            }
        }
    }
}
