//! The per-session seq gate (§7.4): it decides, for every seq'd `data` op, whether it runs now,
//! waits for a predecessor, is a duplicate, or has waited too long.
//!
//! Ordering is enforced at the node, not the client: the whole write → wait → drain of op N
//! finishes before op N+1 starts, so uplink and downlink bytes stay in seq order whichever
//! batch, relay or HTTP request each op travelled in. The gate never skips a gap: a missing
//! seq makes its successors time out, because skipping would silently corrupt the stream.
//!
//! The gate also implements poll preemption (§7.7): a running op that is parked as an idle
//! long-poll yields as soon as a later seq of its session arrives, so a write never waits
//! behind a parked poll.
//!
//! On a replay-safe session (§7.10) the gate also holds the reply of every processed seq
//! until the client acknowledges it, in the same place that knows which seqs were processed,
//! so "processed" and "answerable again" can never disagree.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::replay::{Held, Replay, ReplayLimits, ReplayStore};
use crate::reply::Reply;

/// What happens to a seq'd op when it reaches the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// It holds the turn: write, wait, drain, then [`SeqGate::finish`].
    Run,
    /// It waits for its predecessors until `deadline`. When `preempt` is set the op holding
    /// the turn is an idle long-poll that must answer now.
    Wait { deadline: Instant, preempt: bool },
    /// `seq < expected`: already processed; nothing may be written.
    Duplicate { expected: u64 },
    /// The same seq is running or waiting already (a duplicated request); nothing is written.
    InProgress { expected: u64 },
    /// Too many ops of this session are already waiting.
    Backlog { limit: usize },
}

/// What a waiting op learns when it looks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Run,
    Wait { deadline: Instant },
    TimedOut { expected: u64, waited: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Running {
    seq: u64,
    parked_idle: bool,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    arrived: Instant,
    deadline: Instant,
}

/// What a retransmit of `seq` (an arrival that was a duplicate or in progress) gets (§7.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retransmit {
    /// The client never sent `ack` on this session (or the node holds no replies): the
    /// refusals of §7.5 apply.
    NotReplaySafe,
    /// The first copy is still running or waiting: wait for it.
    Pending,
    /// The first copy's reply, exactly.
    Held(Reply),
    /// Processed, and its reply is no longer held.
    Released { expected: u64 },
}

/// Seq state of one session. Invariant: a running op always has `seq == expected`.
#[derive(Debug, Clone)]
pub struct SeqGate {
    expected: u64,
    running: Option<Running>,
    waiting: BTreeMap<u64, Waiter>,
    timeout: Duration,
    max_waiting: usize,
    /// How replies are held once the client sends `ack`; none: never (a node without §7.10).
    replay_limits: Option<ReplayLimits>,
    /// The held replies, from the session's first `ack` on.
    replay: Option<ReplayStore>,
}

impl SeqGate {
    /// A fresh session expects seq 0.
    pub fn new(timeout: Duration, max_waiting: usize) -> Self {
        Self {
            expected: 0,
            running: None,
            waiting: BTreeMap::new(),
            timeout,
            max_waiting,
            replay_limits: None,
            replay: None,
        }
    }

    /// A gate that holds replies within `limits` once its session sends `ack` (§7.10).
    pub fn with_replay(mut self, limits: ReplayLimits) -> Self {
        self.replay_limits = Some(limits);
        self
    }

    /// The client received every reply below `ack`. The first `ack` makes the session
    /// replay-safe; returns the bytes of held replies released. Ignored on a gate without
    /// replay limits.
    pub fn ack(&mut self, ack: u64) -> usize {
        let Some(limits) = self.replay_limits else {
            return 0;
        };
        self.replay
            .get_or_insert_with(|| ReplayStore::new(limits))
            .ack(ack)
    }

    /// Whether this session holds replies for retransmits.
    pub fn replay_safe(&self) -> bool {
        self.replay.is_some()
    }

    /// Keeps the reply of the processed `seq` for a retransmit; `node_room` is what the
    /// node-wide limit still allows. Nothing is held on a session that is not replay-safe.
    pub fn hold(&mut self, seq: u64, reply: &Reply, node_room: usize) -> Held {
        let processed = seq < self.expected || self.running.is_some_and(|r| r.seq == seq);
        match &mut self.replay {
            Some(store) if processed => store.hold(seq, reply, node_room),
            _ => Held::default(),
        }
    }

    /// What a retransmit of `seq` gets now.
    pub fn retransmit(&self, seq: u64) -> Retransmit {
        let Some(store) = &self.replay else {
            return Retransmit::NotReplaySafe;
        };
        if seq >= self.expected {
            return Retransmit::Pending;
        }
        match store.replay(seq) {
            Replay::Held(r) => Retransmit::Held(r),
            Replay::Released { .. } => Retransmit::Released {
                expected: self.expected,
            },
        }
    }

    /// Whether the session stays in the table after a drain reported eof, until the client
    /// closes it or the reaper takes it: a replay-safe session must still answer a retransmit
    /// of its last seq, whose reply carried the final bytes (§7.10).
    pub fn keep_after_eof(&self) -> bool {
        self.replay_safe()
    }

    /// Bytes of replies held now.
    pub fn held_bytes(&self) -> usize {
        self.replay.as_ref().map_or(0, ReplayStore::bytes)
    }

    /// Releases every held reply (the session is gone); returns the bytes freed.
    pub fn release_all(&mut self) -> usize {
        self.replay.as_mut().map_or(0, ReplayStore::clear)
    }

    /// The next seq this session will run.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// The seq holding the turn, if any.
    pub fn running(&self) -> Option<u64> {
        self.running.map(|r| r.seq)
    }

    /// Number of ops waiting for their turn.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// An op with `seq` arrives at `now`.
    pub fn arrive(&mut self, seq: u64, now: Instant) -> Arrival {
        if seq < self.expected {
            return Arrival::Duplicate {
                expected: self.expected,
            };
        }
        if self.running.is_some_and(|r| r.seq == seq) || self.waiting.contains_key(&seq) {
            return Arrival::InProgress {
                expected: self.expected,
            };
        }
        if seq == self.expected && self.running.is_none() {
            self.running = Some(Running {
                seq,
                parked_idle: false,
            });
            return Arrival::Run;
        }
        if self.waiting.len() >= self.max_waiting {
            return Arrival::Backlog {
                limit: self.max_waiting,
            };
        }
        let deadline = now + self.timeout;
        self.waiting.insert(
            seq,
            Waiter {
                arrived: now,
                deadline,
            },
        );
        let preempt = match self.running.as_mut() {
            Some(r) if r.parked_idle => {
                r.parked_idle = false;
                true
            }
            _ => false,
        };
        Arrival::Wait { deadline, preempt }
    }

    /// A waiting op looks again (after a wake-up or at its deadline).
    pub fn poll(&mut self, seq: u64, now: Instant) -> Turn {
        let Some(waiter) = self.waiting.get(&seq).copied() else {
            // Not waiting: either it already holds the turn or it was never registered.
            return if self.running.is_some_and(|r| r.seq == seq) {
                Turn::Run
            } else {
                Turn::TimedOut {
                    expected: self.expected,
                    waited: Duration::ZERO,
                }
            };
        };
        if seq == self.expected && self.running.is_none() {
            self.waiting.remove(&seq);
            self.running = Some(Running {
                seq,
                parked_idle: false,
            });
            return Turn::Run;
        }
        if now >= waiter.deadline {
            self.waiting.remove(&seq);
            return Turn::TimedOut {
                expected: self.expected,
                waited: now.saturating_duration_since(waiter.arrived),
            };
        }
        Turn::Wait {
            deadline: waiter.deadline,
        }
    }

    /// The running op is about to park as an idle long-poll. Returns `false` when a later seq
    /// is already waiting, in which case it must answer at once instead of parking.
    pub fn park(&mut self, seq: u64) -> bool {
        match self.running.as_mut() {
            Some(r) if r.seq == seq && self.waiting.is_empty() => {
                r.parked_idle = true;
                true
            }
            _ => false,
        }
    }

    /// The running op stopped waiting (it woke for its own reasons and drains now).
    pub fn unpark(&mut self, seq: u64) {
        if let Some(r) = self.running.as_mut().filter(|r| r.seq == seq) {
            r.parked_idle = false;
        }
    }

    /// The running op is done (whatever its outcome); the turn passes to `seq + 1`.
    /// Returns whether that successor is already waiting, so the shell knows to wake it.
    pub fn finish(&mut self, seq: u64) -> bool {
        if self.running.is_some_and(|r| r.seq == seq) {
            self.running = None;
            self.expected = seq.saturating_add(1);
        }
        self.waiting.contains_key(&self.expected)
    }
}

#[cfg(test)]
mod tests;
