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
    ops: Vec<(BatchOp, T)>,
    closes: Vec<(BatchOp, T)>,
    /// Body length of the open batch (ops and commas; the envelope is `overhead`), or its
    /// base64 payload under `payload_only`.
    size: usize,
    opens: usize,
    first_at: Option<Instant>,
    last_data_at: Option<Instant>,
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
            ops: Vec::new(),
            closes: Vec::new(),
            size: 0,
            opens: 0,
            first_at: None,
            last_data_at: None,
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

    /// Adds an op. Returns the batches that are ready because of it: the open batch when the
    /// op does not fit in it, and the new batch when it is full.
    pub fn push(&mut self, op: BatchOp, tag: T, now: Instant) -> Vec<Batch<T>> {
        let mut ready = Vec::new();
        let (cost, limit) = self.cost(&op);
        let open = usize::from(op.opens_session());
        if !self.is_empty()
            && (self.len() >= self.max_ops
                || self.size + self.comma() + cost > limit
                || self.opens + open > MAX_OPENS_PER_BATCH)
        {
            ready.extend(self.take());
        }
        self.first_at.get_or_insert(now);
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
        Some(match self.last_data_at {
            Some(last) => hard.min(last + self.step),
            None => hard,
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
        self.size = 0;
        self.opens = 0;
        let (mut ops, mut tags): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.ops).into_iter().unzip();
        let (close_ops, close_tags): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.closes).into_iter().unzip();
        ops.extend(close_ops);
        tags.extend(close_tags);
        Some(Batch { ops, tags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::body_cap::body_len;
    use crate::client::params::{MAX_BATCH_BODY_BYTES, MAX_DATA_OP_BYTES};
    use crate::envelope::BatchRequest;
    use crate::params::DEPLOYED_BODY_LIMIT;
    use proptest::prelude::*;

    const KEY: &str = "a-relay-key-of-some-length";

    fn overhead() -> usize {
        serde_json::to_vec(&BatchRequest::outer(KEY, Vec::new()))
            .unwrap()
            .len()
    }

    fn batcher<T>(p: &ClientParams) -> Batcher<T> {
        Batcher::new(p, overhead(), &ClientFaults::default())
    }

    fn params() -> ClientParams {
        ClientParams::default()
    }

    fn data(n: usize) -> BatchOp {
        BatchOp::data("s", &vec![7u8; n], None)
    }

    /// The body a batch becomes, serialised for real.
    fn body<T>(batch: &Batch<T>) -> usize {
        serde_json::to_vec(&BatchRequest::outer(KEY, batch.ops.clone()))
            .unwrap()
            .len()
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_soft_window_moves_with_each_op_until_the_hard_limit() {
        let t0 = Instant::now();
        let mut b = batcher(&params());
        assert_eq!(b.deadline(), None);
        assert!(b.push(data(1), 0, t0).is_empty());
        assert_eq!(b.deadline(), Some(t0 + MS(200)));
        assert!(b.push(data(1), 1, t0 + MS(150)).is_empty());
        assert_eq!(b.deadline(), Some(t0 + MS(350)));
        for i in 0..5 {
            b.push(data(1), 2 + i, t0 + MS(300 + 150 * i as u64));
        }
        // The last op came at 900 ms; 1100 ms would pass the hard limit.
        assert_eq!(b.deadline(), Some(t0 + MS(1000)));
        assert!(b.take_due(t0 + MS(999)).is_none());
        let batch = b.take_due(t0 + MS(1000)).unwrap();
        assert_eq!(batch.tags, (0..7).collect::<Vec<_>>());
        assert!(b.is_empty() && b.deadline().is_none());
    }

    #[test]
    fn the_51st_op_starts_the_next_batch_and_the_50th_fires_at_once() {
        let t0 = Instant::now();
        let mut b = batcher(&params());
        for i in 0..49 {
            assert!(b.push(data(1), i, t0).is_empty());
        }
        let ready = b.push(data(1), 49, t0);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].len(), 50);
        assert!(b.is_empty());
        assert!(b.push(data(1), 50, t0).is_empty());
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn the_body_cap_splits_at_its_edge() {
        let t0 = Instant::now();
        let two = [data(300), data(300)];
        let exact = body_len(overhead(), &two);
        let mut p = params();
        p.max_batch_body = exact;
        let mut b = batcher(&p);
        assert!(b.push(data(300), 0, t0).is_empty());
        assert!(
            b.push(data(300), 1, t0).is_empty(),
            "exactly at the cap fits"
        );
        let ready = b.push(data(0), 2, t0);
        assert_eq!(ready.len(), 1, "one byte over starts the next batch");
        assert_eq!(ready[0].tags, vec![0, 1]);
        assert_eq!(body(&ready[0]), exact);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn an_oversized_first_op_is_accepted() {
        let t0 = Instant::now();
        let mut p = params();
        p.max_batch_body = 100;
        let mut b = batcher(&p);
        assert!(b.push(data(300), 0, t0).is_empty());
        let ready = b.push(data(300), 1, t0);
        assert_eq!(ready[0].tags, vec![0]);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn a_lowered_cap_applies_to_the_next_op() {
        let t0 = Instant::now();
        let mut b = batcher(&params());
        b.push(data(1000), 0, t0);
        b.set_max_body(overhead() + 1500);
        let ready = b.push(data(1000), 1, t0);
        assert_eq!(ready.len(), 1);
    }

    /// Three uploading sessions with full 1 MiB ops: the deployed client (and seqtun-client
    /// before the body cap) put two of them in one 2.8 MB request, which deployed nodes refuse.
    #[test]
    fn full_ops_of_three_sessions_never_make_a_body_over_the_deployed_limit() {
        let t0 = Instant::now();
        let full = |s: &str, seq| BatchOp::data(s, &vec![1u8; MAX_DATA_OP_BYTES], Some(seq));
        let run = |faults: &ClientFaults| {
            let mut b: Batcher<()> = Batcher::new(&params(), overhead(), faults);
            let mut out = Vec::new();
            for seq in 0..2 {
                for s in ["9b1b7ac4-0d1f-4c5e-9a48-3f3f1d2e7c11", "b", "c"] {
                    out.extend(b.push(full(s, seq), (), t0));
                }
            }
            out.extend(b.take());
            out.iter().map(body).max().unwrap()
        };
        let largest = run(&ClientFaults::default());
        assert!(largest <= MAX_BATCH_BODY_BYTES, "{largest}");
        assert!(largest < DEPLOYED_BODY_LIMIT);
        let before_the_fix = run(&ClientFaults {
            ignore_body_limit: true,
            ..ClientFaults::default()
        });
        assert!(before_the_fix > DEPLOYED_BODY_LIMIT, "{before_the_fix}");
    }

    #[test]
    fn closes_ride_at_the_end_and_alone_wait_the_hard_limit() {
        let t0 = Instant::now();
        let mut b = batcher(&params());
        b.push(BatchOp::close("a"), "close-a", t0);
        assert_eq!(b.deadline(), Some(t0 + MS(1000)));
        b.push(data(1), "data-b", t0 + MS(10));
        assert_eq!(b.deadline(), Some(t0 + MS(210)));
        let batch = b.take().unwrap();
        assert_eq!(batch.tags, vec!["data-b", "close-a"]);
        assert_eq!(batch.ops[1], BatchOp::close("a"));
        assert!(!batch.carries_seq());
    }

    #[test]
    fn a_second_open_fires_the_batch_holding_the_first() {
        let t0 = Instant::now();
        let mut b = batcher(&params());
        assert!(b.push(BatchOp::connect("a", 80), 0, t0).is_empty());
        assert!(b.push(data(1), 1, t0).is_empty(), "data may share it");
        assert!(b.push(BatchOp::close("x"), 2, t0).is_empty());
        for (i, second) in [
            BatchOp::connect_data("b", 443, b"hi"),
            BatchOp::udp_open("c", 53, b"q"),
            BatchOp::connect("d", 80),
        ]
        .into_iter()
        .enumerate()
        {
            let ready = b.push(second, 3 + i, t0);
            assert_eq!(ready.len(), 1, "open #{i}");
            assert_eq!(ready[0].ops.iter().filter(|o| o.opens_session()).count(), 1);
            assert_eq!(b.len(), 1, "the second open starts the next batch");
        }
        let ready = b.take().unwrap();
        assert_eq!(ready.tags, vec![5]);
    }

    #[test]
    fn carries_seq() {
        let mut b = batcher(&params());
        b.push(BatchOp::data("s", b"", Some(0)), (), Instant::now());
        assert!(b.take().unwrap().carries_seq());
    }

    proptest! {
        #[test]
        fn no_batch_breaks_a_limit_and_no_op_is_lost(
            sizes in proptest::collection::vec((0usize..4000, any::<bool>()), 1..200),
            max_ops in 1usize..60,
            max_body in 1usize..20_000,
        ) {
            let t0 = Instant::now();
            let mut p = params();
            p.max_batch_ops = max_ops;
            p.max_batch_body = max_body;
            let mut b = batcher(&p);
            let mut out = Vec::new();
            for (i, (n, open)) in sizes.iter().enumerate() {
                let op = if *open {
                    BatchOp::connect_data("h", 443, &vec![7u8; *n])
                } else if i % 7 == 3 {
                    BatchOp::close("s")
                } else {
                    data(*n)
                };
                out.extend(b.push(op, i, t0));
            }
            out.extend(b.take());
            let mut seen = Vec::new();
            for batch in &out {
                prop_assert!(!batch.is_empty());
                prop_assert!(batch.len() <= max_ops);
                prop_assert!(batch.len() == 1 || body(batch) <= max_body);
                prop_assert!(batch.ops.iter().filter(|o| o.opens_session()).count() <= MAX_OPENS_PER_BATCH);
                seen.extend(batch.tags.iter().copied());
            }
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
        }
    }
}
