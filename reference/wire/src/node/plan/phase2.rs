//! Phase 2 of a batch (§5.3): the wait, the drains in budget order, the seq'd ops, the
//! deferred closes, and the reply assembler that answers every op in place (§3.1).

use std::time::Duration;

use crate::ops::Transport;
use crate::reply::{OpError, Reply};
use crate::rules::Spent;

use super::{BatchPlan, Drained, Slot};
use crate::node::budget::Ledger;
use crate::node::job::{SeqJob, TcpDrain};

/// What phase 2 does.
#[derive(Debug)]
pub struct Phase2 {
    /// The batch wait before the drains; `None` when there is nothing to drain.
    pub wait: Option<BatchWait>,
    /// Whether waits of this batch wake when a session is ready (vs. sitting out the deadline).
    pub wake_on_ready: bool,
    /// Drains, in budget order: op order (§5.4).
    pub drains: Vec<Drain>,
    /// Seq'd ops whose session was live, each with its machine.
    pub jobs: Vec<(usize, SeqJob)>,
    /// Closes that waited for the drains and jobs (§7.6); their replies are decided.
    pub closes: Vec<(usize, String)>,
    /// The batch's response budget, shared by drains and jobs.
    pub ledger: Ledger,
}

/// Phase 2, step 1 and 2 (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchWait {
    /// Wait until a session of the batch is ready, or this long.
    pub within: Duration,
    active: bool,
}

impl BatchWait {
    /// After the wait: settle (`true`) only when the batch is active and something arrived.
    pub fn settles(&self, woke: bool) -> bool {
        woke && self.active
    }
}

/// One phase-2 drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    pub slot: usize,
    pub transport: Transport,
    /// Mark the session active when draining (§5.1).
    pub touch: bool,
    /// What a TCP drain answers with the budget spent.
    pub spent: Spent,
}

impl BatchPlan {
    /// Phase 2: call once, after every open was reported.
    pub fn phase2(&mut self) -> Phase2 {
        self.drains.sort_by_key(|d| d.slot);
        let wait = (!self.drains.is_empty()).then_some(BatchWait {
            within: self.params.drain_deadline(self.active),
            active: self.active,
        });
        let drains = self
            .drains
            .iter()
            .map(|d| Drain {
                slot: d.slot,
                transport: d.transport,
                touch: match d.transport {
                    Transport::Tcp => self.rules.touch_tcp_polls,
                    Transport::Udp => false,
                },
                spent: self.rules.spent,
            })
            .collect();
        let jobs = std::mem::take(&mut self.jobs)
            .into_iter()
            .map(|(slot, job)| {
                (
                    slot,
                    SeqJob::new(job, &self.params, &self.rules, self.active),
                )
            })
            .collect();
        Phase2 {
            wait,
            wake_on_ready: self.rules.wake_on_ready || self.active,
            drains,
            jobs,
            closes: std::mem::take(&mut self.deferred),
            ledger: Ledger::new(self.params.batch_budget, self.params.tcp_drain_max),
        }
    }

    /// The sid a phase-2 drain of `slot` drains.
    pub fn drain_sid(&self, slot: usize) -> Option<&str> {
        self.drain_of(slot).map(|d| d.sid.as_str())
    }

    fn drain_of(&self, slot: usize) -> Option<&Drained> {
        self.drains.iter().find(|d| d.slot == slot)
    }

    /// What a phase-2 TCP drain returned.
    pub fn tcp_drained(&mut self, slot: usize, outcome: TcpDrain<'_>) {
        let Some(d) = self.drain_of(slot) else {
            return;
        };
        self.replies[slot] = match outcome {
            TcpDrain::Omitted => Slot::Omitted,
            TcpDrain::Closed => Slot::Reply(Reply::gone(&d.sid)),
            TcpDrain::Bytes { bytes, eof } => {
                Slot::Reply(Reply::drained(&d.sid, bytes, eof).with_caps(d.caps))
            }
        };
    }

    /// What a phase-2 UDP drain returned: every queued datagram, oldest first.
    pub fn udp_drained<T: AsRef<[u8]>>(&mut self, slot: usize, pkts: &[T], eof: bool) {
        if let Some(d) = self.drain_of(slot) {
            self.replies[slot] = Slot::Reply(Reply::datagrams(&d.sid, pkts, eof));
        }
    }

    /// A seq'd op's machine finished with `reply`.
    pub fn job_done(&mut self, slot: usize, reply: Reply) {
        self.replies[slot] = Slot::Reply(reply);
    }

    /// The executor lost the seq'd op `seq` of `slot` (its task died): the slot is still
    /// answered, with the seq (§3.1).
    pub fn job_lost(&mut self, slot: usize, seq: u64, why: &str) {
        let reply = Reply::from(OpError::Internal(why.to_string())).with_seq(Some(seq));
        self.replies[slot] = Slot::Reply(reply);
    }

    /// `r`: one entry per op in op order (§3.1). A slot nothing answered (it cannot happen,
    /// but an empty slot would shift every later reply onto the wrong op) gets an internal
    /// error; then the reply-level faults apply.
    pub fn finish(self) -> Vec<Reply> {
        let r = self
            .replies
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Reply(reply) => Some(reply),
                Slot::Pending => Some(OpError::Internal("op produced no reply".into()).into()),
                Slot::Omitted => None,
            })
            .collect();
        self.rules.finish(r)
    }
}
