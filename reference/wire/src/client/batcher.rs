//! Collecting ops into batches (§6.3).
//!
//! Every batch costs one relay call out of a daily quota, so ops are coalesced: after the
//! first op the batch stays open while ops keep arriving within `coalesce_step` of each other,
//! and fires no later than `coalesce_max` after the first. A batch is capped in ops and in the
//! size of the request body it becomes, envelope and key included (deployed nodes refuse bodies
//! over 2 MiB, §1.4; `body_cap` measures them exactly); an op that does not fit starts the next
//! batch, but the first op of a batch is always accepted so an oversized op cannot wedge the
//! queue (sessions size their ops to fit, and a refused lone op goes back to its session).
//! `close` ops ride at the end of a batch: they need no reply, and after the data ops they can
//! never overtake a same-session write inside the node (§7.6). A batch of nothing but closes
//! waits the full `coalesce_max` for company.
//!
//! **seqtun:** an op the session marks *prompt* (app bytes, an open, or a poll while downlink
//! flows: someone waits for it) fires its batch at most `coalesce_prompt` (5 ms) after it arrived, so
//! a download no longer pays the 200 ms step on every relay call; ops arriving within that
//! window still share the call. And a batch carries at most one pipelined poll of each
//! session: a session keeping several polls out while it downloads sends them as separate
//! calls, so their replies cross the relay side by side instead of queueing in one reply,
//! which is what makes depth pay when replies move at a finite rate (bench/README.md). A
//! second such poll fires the batch and starts the next.
//!
//! A batch carries at most [`MAX_OPENS_PER_BATCH`] open (`connect`, `connect_data`,
//! `udp_open`): an open's reply brings a sid the client has never seen, so nothing shows which
//! open it answers, and a hop that swapped two of them would give each app the other's
//! connection (§3.1, §6.3). A second open fires the batch at once and starts the next.

use std::time::{Duration, Instant};

use crate::op::{BatchOp, OpKind};

use super::body_cap::op_len;
use super::faults::ClientFaults;
use super::params::{ClientParams, LEGACY_MAX_BATCH_PAYLOAD_B64};

/// Opens per batch. Not a tuning knob: with two, a relay that swaps their replies crosses the
/// two apps' connections, and the client cannot tell (§3.1).
pub const MAX_OPENS_PER_BATCH: usize = 1;

/// A batch ready to send; `tags[i]` belongs to `ops[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    pub ops: Vec<BatchOp>,
    pub tags: Vec<T>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            ops: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl<T> Batch<T> {
    /// True when any op carries `seq` (the batch then gets the pipelined timeout, §6.6).
    pub fn carries_seq(&self) -> bool {
        self.ops.iter().any(|op| op.seq.is_some())
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The open batch. `T` is whatever the caller needs to route each op's reply.
#[derive(Debug)]
pub struct Batcher<T> {
    max_ops: usize,
    max_body: usize,
    overhead: usize,
    /// The `ignore_body_limit` fault: cap base64 payload only, as before the body cap.
    payload_only: bool,
    step: Duration,
    max: Duration,
    prompt: Duration,
    ops: Vec<(BatchOp, T)>,
    closes: Vec<(BatchOp, T)>,
    /// Body length of the open batch (ops and commas; the envelope is `overhead`), or its
    /// base64 payload under `payload_only`.
    size: usize,
    opens: usize,
    /// Sessions with a pipelined poll in the open batch.
    polling: Vec<String>,
    first_at: Option<Instant>,
    last_data_at: Option<Instant>,
    /// When the first prompt op joined the open batch.
    prompt_at: Option<Instant>,
}

impl<T> Batcher<T> {
    /// `overhead` is the length of the envelope without ops (`{"k":…,"ops":[]}`) in the
    /// longest dialect the batches may be sent in.
    pub fn new(params: &ClientParams, overhead: usize, faults: &ClientFaults) -> Self {
        Self {
            max_ops: params.max_batch_ops.max(1),
            max_body: params.max_batch_body,
            overhead,
            payload_only: faults.ignore_body_limit,
            step: params.coalesce_step,
            max: params.coalesce_max,
            prompt: params.coalesce_prompt,
            ops: Vec::new(),
            closes: Vec::new(),
            size: 0,
            opens: 0,
            polling: Vec::new(),
            first_at: None,
            last_data_at: None,
            prompt_at: None,
        }
    }

    /// Lowers (or sets) the body cap, e.g. after a node refused a body (§6.3).
    pub fn set_max_body(&mut self, max_body: usize) {
        self.max_body = max_body;
    }

    /// What `op` adds to a batch (without the comma before it), and the limit the sum of those
    /// (with commas) must stay within.
    fn cost(&self, op: &BatchOp) -> (usize, usize) {
        if self.payload_only {
            let b64 = op.d.as_ref().map_or(0, String::len);
            (b64, LEGACY_MAX_BATCH_PAYLOAD_B64)
        } else {
            (op_len(op), self.max_body.saturating_sub(self.overhead))
        }
    }

    /// The comma before the next op, when the batch counts body bytes and is not empty.
    fn comma(&self) -> usize {
        usize::from(!self.payload_only && !self.is_empty())
    }

    /// Ops in the open batch.
    pub fn len(&self) -> usize {
        self.ops.len() + self.closes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an op that may wait for company (`coalesce_step`, `coalesce_max`). Returns the
    /// batches that are ready because of it: the open batch when the op does not fit in it,
    /// and the new batch when it is full.
    pub fn push(&mut self, op: BatchOp, tag: T, now: Instant) -> Vec<Batch<T>> {
        self.push_paced(op, tag, false, now)
    }

    /// Adds a prompt op: its batch fires at most `coalesce_prompt` after it.
    pub fn push_prompt(&mut self, op: BatchOp, tag: T, now: Instant) -> Vec<Batch<T>> {
        self.push_paced(op, tag, true, now)
    }

    fn push_paced(&mut self, op: BatchOp, tag: T, prompt: bool, now: Instant) -> Vec<Batch<T>> {
        let mut ready = Vec::new();
        let (cost, limit) = self.cost(&op);
        let open = usize::from(op.opens_session());
        let poll_of = pipelined_poll_sid(&op);
        if !self.is_empty()
            && (self.len() >= self.max_ops
                || self.size + self.comma() + cost > limit
                || self.opens + open > MAX_OPENS_PER_BATCH
                || poll_of.is_some_and(|sid| self.polling.iter().any(|p| p == sid)))
        {
            ready.extend(self.take());
        }
        self.first_at.get_or_insert(now);
        if prompt {
            self.prompt_at.get_or_insert(now);
        }
        if let Some(sid) = poll_of {
            self.polling.push(sid.to_owned());
        }
        self.size += self.comma() + cost;
        self.opens += open;
        if op.kind() == OpKind::Close {
            self.closes.push((op, tag));
        } else {
            self.last_data_at = Some(now);
            self.ops.push((op, tag));
        }
        if self.len() >= self.max_ops {
            ready.extend(self.take());
        }
        ready
    }

    /// When the open batch must fire, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        let hard = self.first_at? + self.max;
        let soft = match self.last_data_at {
            Some(last) => hard.min(last + self.step),
            None => hard,
        };
        Some(match self.prompt_at {
            Some(at) => soft.min(at + self.prompt),
            None => soft,
        })
    }

    /// The open batch, if its deadline has passed.
    pub fn take_due(&mut self, now: Instant) -> Option<Batch<T>> {
        if self.deadline()? <= now {
            self.take()
        } else {
            None
        }
    }

    /// The open batch, now (e.g. on shutdown).
    pub fn take(&mut self) -> Option<Batch<T>> {
        if self.is_empty() {
            return None;
        }
        self.first_at = None;
        self.last_data_at = None;
        self.prompt_at = None;
        self.size = 0;
        self.opens = 0;
        self.polling.clear();
        let (mut ops, mut tags): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.ops).into_iter().unzip();
        let (close_ops, close_tags): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.closes).into_iter().unzip();
        ops.extend(close_ops);
        tags.extend(close_tags);
        Some(Batch { ops, tags })
    }
}

/// The session of a pipelined poll (a `data` op with `seq` and no payload).
fn pipelined_poll_sid(op: &BatchOp) -> Option<&str> {
    let poll = op.kind() == OpKind::Data && op.seq.is_some() && !op.has_payload();
    op.sid.as_deref().filter(|_| poll)
}

#[cfg(test)]
mod tests;
