//! The batch planner (§5.3): what each op does in phase 1, when a close waits (§7.6), what
//! phase 2 waits for and drains, and the reply assembler that answers every op in place (§3.1).
//!
//! Phase 1 is incremental because some of its decisions depend on what the I/O found: a close
//! waits only for an earlier op of its batch that registered a drain or a job on the same
//! session, and an un-seq'd write registers a drain only if its session was live. The planner
//! therefore hands out one [`Step`] at a time and is told what each lookup found; it never
//! looks at a session itself.

use std::collections::{HashSet, VecDeque};

use crate::ops::{Action, Job, Op, Open, OpenKind, Transport, Write};
use crate::params::NodeParams;
use crate::reply::{OpError, Reply};
use crate::rules::Rules;

pub use self::phase2::{BatchWait, Drain, Phase2};

/// What planning a batch starts with.
#[derive(Debug)]
pub enum Start {
    /// The whole batch is answered without running any op.
    Answered(Vec<Reply>),
    /// Run the plan (boxed: it is large, and moved once per batch).
    Plan(Box<BatchPlan>),
}

/// Plans one batch of parsed ops.
pub fn plan(ops: Vec<Op>, params: &NodeParams, rules: &Rules) -> Start {
    let n = ops.len();
    let limit = params.max_batch_ops;
    if n > limit {
        // seqtun: every op gets the same answer and none runs (§3.5).
        return Start::Answered(vec![OpError::TooManyOps { count: n, limit }.into(); n]);
    }
    if rules.whole_batch_on_bad_op
        && let Some(Op::Malformed(m)) = ops.iter().find(|op| matches!(op, Op::Malformed(_)))
    {
        return Start::Answered(vec![m.whole_batch_reply()]);
    }
    let active = ops.iter().any(|op| op.is_active(rules));
    let actions = ops
        .into_iter()
        .map(|op| op.action(rules))
        .enumerate()
        .collect();
    Start::Plan(Box::new(BatchPlan {
        rules: rules.clone(),
        params: params.clone(),
        active,
        actions,
        replies: vec![Slot::Pending; n],
        lookups: Vec::new(),
        pending: HashSet::new(),
        drains: Vec::new(),
        jobs: Vec::new(),
        deferred: Vec::new(),
        opens: Vec::new(),
    }))
}

/// One phase-1 step for the executor, in op order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Start opening a session now; report with [`BatchPlan::opened`] once phase 1 is done.
    Open { slot: usize, open: Open },
    /// Look `sid` up in the `transport` table; if live, touch it when `touch` and write
    /// `bytes` (none when empty; a failed write is ignored, as deployed). Report with
    /// [`BatchPlan::found`] before the next step.
    Write {
        slot: usize,
        transport: Transport,
        sid: String,
        touch: bool,
        bytes: Vec<u8>,
    },
    /// Look the TCP session of a seq'd op up now (so `[close, data]` finds it gone) and keep
    /// it for phase 2. Report with [`BatchPlan::found`].
    FindJob { slot: usize, sid: String },
    /// Close `sid` now (its reply is already decided).
    Close { slot: usize, sid: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Slot {
    Pending,
    Reply(Reply),
    /// No entry at all ([`Spent::NoEntry`]).
    Omitted,
}

/// A phase-2 drain's session: its sid and the `caps` its reply carries.
#[derive(Debug, Clone)]
pub(super) struct Drained {
    pub(super) slot: usize,
    pub(super) sid: String,
    pub(super) transport: Transport,
    pub(super) caps: Option<u32>,
}

/// A batch being run.
#[derive(Debug)]
pub struct BatchPlan {
    rules: Rules,
    params: NodeParams,
    active: bool,
    actions: VecDeque<(usize, Action)>,
    replies: Vec<Slot>,
    /// Steps whose lookup is due, by slot: a write or a job.
    lookups: Vec<(usize, Action)>,
    /// Sessions an earlier op of the batch registered a drain or job for (§7.6).
    pending: HashSet<String>,
    drains: Vec<Drained>,
    jobs: Vec<(usize, Job)>,
    deferred: Vec<(usize, String)>,
    opens: Vec<(usize, OpenKind)>,
}

impl BatchPlan {
    /// Whether the batch wrote or connected, so its waits are short (§5.3).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The next phase-1 step, in op order; `None` when phase 1 is done.
    pub fn next_step(&mut self) -> Option<Step> {
        while let Some((slot, action)) = self.actions.pop_front() {
            match action {
                Action::Answer(reply) => self.replies[slot] = Slot::Reply(reply),
                Action::Open(open) => {
                    self.opens.push((slot, open.kind));
                    return Some(Step::Open { slot, open });
                }
                Action::Write(w) => return Some(self.write_step(slot, w)),
                Action::Job(job) => {
                    // Registered whether or not the session is live: a later close waits.
                    self.pending.insert(job.sid.clone());
                    let sid = job.sid.clone();
                    self.lookups.push((slot, Action::Job(job)));
                    return Some(Step::FindJob { slot, sid });
                }
                Action::Close { sid } => {
                    self.replies[slot] = Slot::Reply(Reply::gone(&sid));
                    if self.rules.defer_close && self.pending.contains(&sid) {
                        self.deferred.push((slot, sid));
                    } else {
                        return Some(Step::Close { slot, sid });
                    }
                }
            }
        }
        None
    }

    fn write_step(&mut self, slot: usize, w: Write) -> Step {
        let step = Step::Write {
            slot,
            transport: w.transport,
            sid: w.sid.clone(),
            touch: w.touch,
            bytes: w.bytes.as_ref().cloned().unwrap_or_default(),
        };
        self.lookups.push((slot, Action::Write(w)));
        step
    }

    /// What the lookup of a [`Step::Write`] or [`Step::FindJob`] found.
    pub fn found(&mut self, slot: usize, live: bool) {
        let Some(at) = self.lookups.iter().position(|(s, _)| *s == slot) else {
            return;
        };
        let (_, action) = self.lookups.swap_remove(at);
        match action {
            Action::Write(w) if !live => self.replies[slot] = Slot::Reply(Reply::gone(&w.sid)),
            Action::Write(w) => match w.bytes {
                Err(e) => self.replies[slot] = Slot::Reply(e.into()),
                Ok(_) => self.register(slot, w.sid, w.transport),
            },
            Action::Job(job) if !live => {
                let reply = Reply::gone(&job.sid).with_seq(Some(job.seq));
                self.replies[slot] = Slot::Reply(reply);
            }
            Action::Job(job) => self.jobs.push((slot, job)),
            _ => {}
        }
    }

    fn register(&mut self, slot: usize, sid: String, transport: Transport) {
        self.pending.insert(sid.clone());
        self.drains.push(Drained {
            slot,
            sid,
            transport,
            caps: None,
        });
    }

    /// How an open of phase 1 ended: the new session's id, or the error.
    pub fn opened(&mut self, slot: usize, result: Result<String, OpError>) {
        let Some(&(_, kind)) = self.opens.iter().find(|(s, _)| *s == slot) else {
            return;
        };
        let sid = match result {
            Ok(sid) => sid,
            Err(e) => {
                self.replies[slot] = Slot::Reply(e.into());
                return;
            }
        };
        match kind {
            OpenKind::Connect => {
                let reply = Reply::drained(&sid, b"", false).with_caps(self.rules.caps);
                self.replies[slot] = Slot::Reply(reply);
            }
            // A new sid: no op of this batch can name it, so nothing waits on it.
            OpenKind::ConnectData => self.drains.push(Drained {
                slot,
                sid,
                transport: Transport::Tcp,
                caps: self.rules.caps_on_batched_connect_data,
            }),
            OpenKind::UdpOpen => self.drains.push(Drained {
                slot,
                sid,
                transport: Transport::Udp,
                caps: None,
            }),
        }
    }
}

mod phase2;

#[cfg(test)]
mod tests;
