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
fn a_prompt_op_fires_its_batch_within_the_prompt_window() {
    let t0 = Instant::now();
    let mut b = batcher(&params());
    b.push(BatchOp::data("idle", b"", Some(3)), 0, t0);
    assert_eq!(
        b.deadline(),
        Some(t0 + MS(200)),
        "an idle poll waits for company"
    );
    b.push_prompt(data(10), 1, t0 + MS(50));
    assert_eq!(b.deadline(), Some(t0 + MS(55)));
    // Later prompt ops share the call but do not push it back.
    b.push_prompt(data(10), 2, t0 + MS(54));
    assert_eq!(b.deadline(), Some(t0 + MS(55)));
    assert!(b.take_due(t0 + MS(54)).is_none(), "1 ms before the edge");
    let batch = b.take_due(t0 + MS(55)).expect("at the edge");
    assert_eq!(batch.tags, vec![0, 1, 2]);
    // The next batch starts without the prompt mark.
    b.push(data(1), 3, t0 + MS(60));
    assert_eq!(b.deadline(), Some(t0 + MS(260)));
}

#[test]
fn the_prompt_window_is_a_parameter() {
    let t0 = Instant::now();
    let mut p = params();
    p.coalesce_prompt = MS(40);
    let mut b = batcher(&p);
    b.push_prompt(data(1), 0, t0);
    assert_eq!(b.deadline(), Some(t0 + MS(40)));
    p.coalesce_prompt = MS(500);
    let mut b = batcher(&p);
    b.push_prompt(data(1), 0, t0);
    assert_eq!(
        b.deadline(),
        Some(t0 + MS(200)),
        "never later than the step"
    );
}

#[test]
fn a_second_pipelined_poll_of_a_session_starts_the_next_batch() {
    let t0 = Instant::now();
    let mut b = batcher(&params());
    let poll = |sid: &str, seq| BatchOp::data(sid, b"", Some(seq));
    assert!(b.push_prompt(poll("a", 0), 0, t0).is_empty());
    assert!(
        b.push_prompt(poll("b", 0), 1, t0).is_empty(),
        "another session's poll"
    );
    assert!(
        b.push_prompt(BatchOp::data("a", b"ack", Some(1)), 2, t0)
            .is_empty(),
        "a write joins its session's poll"
    );
    assert!(
        b.push(BatchOp::data("a", b"", None), 3, t0).is_empty(),
        "un-seq'd polls are the legacy loop's, one at a time anyway"
    );
    let ready = b.push_prompt(poll("a", 2), 4, t0);
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].tags, vec![0, 1, 2, 3]);
    assert_eq!(b.len(), 1);
    assert!(b.push_prompt(poll("b", 1), 5, t0).is_empty());
    assert_eq!(b.take().unwrap().tags, vec![4, 5]);
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
            } else if i % 5 == 1 {
                BatchOp::data(["p", "q"][*n % 2], b"", Some(i as u64))
            } else {
                data(*n)
            };
            if n % 3 == 0 {
                out.extend(b.push_prompt(op, i, t0));
            } else {
                out.extend(b.push(op, i, t0));
            }
        }
        out.extend(b.take());
        let mut seen = Vec::new();
        for batch in &out {
            prop_assert!(!batch.is_empty());
            prop_assert!(batch.len() <= max_ops);
            prop_assert!(batch.len() == 1 || body(batch) <= max_body);
            prop_assert!(batch.ops.iter().filter(|o| o.opens_session()).count() <= MAX_OPENS_PER_BATCH);
            for sid in ["p", "q"] {
                let polls = batch.ops.iter().filter(|o| o.sid.as_deref() == Some(sid) && o.seq.is_some() && !o.has_payload()).count();
                prop_assert!(polls <= 1, "two polls of {} in one batch", sid);
            }
            seen.extend(batch.tags.iter().copied());
        }
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
    }
}
