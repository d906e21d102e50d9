use proptest::prelude::*;

use super::*;
use crate::envelope::BatchRequest;
use crate::reply::Reply;

fn data(sid: &str, n: usize, seq: Option<u64>) -> BatchOp {
    BatchOp::data(sid, &vec![0xa5; n], seq)
}

fn overhead(key: &str) -> usize {
    serde_json::to_vec(&BatchRequest::outer(key, Vec::new()))
        .unwrap()
        .len()
}

fn arb_op() -> impl Strategy<Value = BatchOp> {
    (
        "[a-z_]{1,12}",
        proptest::option::of(".{0,40}"),
        proptest::option::of("\\PC{0,20}|[\"\\\\\u{0}-\u{1f}]{0,5}"),
        proptest::option::of(any::<u16>()),
        proptest::option::of("[A-Za-z0-9+/=]{0,64}"),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(op, sid, host, port, d, seq, ack)| BatchOp {
            op,
            sid,
            host,
            port,
            d,
            seq,
            ack,
        })
}

proptest! {
    #[test]
    fn lengths_are_exactly_what_serde_json_writes(ops in proptest::collection::vec(arb_op(), 0..6), key in ".{0,30}") {
        for op in &ops {
            prop_assert_eq!(op_len(op), serde_json::to_vec(op).unwrap().len());
        }
        let body = serde_json::to_vec(&BatchRequest::outer(&key, ops.clone())).unwrap();
        prop_assert_eq!(body_len(overhead(&key), &ops), body.len());
        let inner = serde_json::to_vec(&BatchRequest::inner(&key, ops.clone())).unwrap();
        let inner_overhead = serde_json::to_vec(&BatchRequest::inner(&key, Vec::new())).unwrap().len();
        prop_assert_eq!(body_len(inner_overhead, &ops), inner.len());
    }

    #[test]
    fn the_largest_payload_fits_and_one_byte_more_does_not(cap in 200usize..100_000, sid in "[a-f0-9-]{1,40}") {
        let oh = overhead("relay-key");
        let n = max_data_payload(cap, oh, &sid);
        // The largest op a replay-safe session sends: the largest seq and ack (§7.10).
        let acked = |n| BatchOp { ack: Some(u64::MAX), ..data(&sid, n, Some(u64::MAX)) };
        let fits = body_len(oh, [&acked(n)]);
        prop_assert!(fits <= cap, "{fits} > {cap}");
        // Base64 moves in steps of 3 raw bytes: the next step no longer fits.
        let over = body_len(oh, [&acked(n + 3)]);
        prop_assert!(over > cap, "{over} <= {cap}");
    }

    #[test]
    fn repacking_loses_nothing_duplicates_nothing_and_keeps_order(
        sizes in proptest::collection::vec(0usize..6000, 2..40),
        cap in 2_000usize..20_000,
    ) {
        let oh = overhead("k");
        let ops: Vec<BatchOp> = sizes.iter().enumerate().map(|(i, n)| data(&format!("s{i}"), *n, None)).collect();
        let batch = Batch { tags: (0..ops.len()).collect(), ops };
        let out = repack(batch, cap, oh);
        let mut seen: Vec<usize> = out.parts.iter().flat_map(|p| p.tags.clone()).collect();
        for part in &out.parts {
            prop_assert!(part.len() == 1 || body_len(oh, &part.ops) <= cap);
            prop_assert!(part.tags.windows(2).all(|w| w[0] < w[1]));
        }
        for (op, tag) in &out.too_large {
            prop_assert!(body_len(oh, [op]) > cap);
            seen.push(*tag);
        }
        prop_assert!(out.refused.is_empty());
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
    }
}

#[test]
fn json_strings_count_their_escapes() {
    for s in [
        "",
        "plain",
        "q\"b\\",
        "\n\t\r\u{8}\u{c}",
        "\u{1}\u{1f}",
        "é/ü",
        "\u{7f}",
    ] {
        assert_eq!(
            json_str_len(s),
            serde_json::to_string(s).unwrap().len(),
            "{s:?}"
        );
    }
}

#[test]
fn the_cap_halves_on_refusal_and_never_drops_below_the_floor() {
    let mut cap = BodyCap::new(2_000_000);
    assert_eq!(cap.get(), 2_000_000);
    // A refused body larger than the cap (the node's limit was raised by flag past it) halves.
    assert_eq!(cap.refused(2_800_000), 1_400_000);
    assert_eq!(cap.refused(1_400_000), 700_000);
    // A refused body far below the cap cannot raise it again.
    assert_eq!(cap.refused(2_000_000), 700_000);
    for _ in 0..40 {
        cap.refused(cap.get());
    }
    assert_eq!(cap.get(), MIN_BATCH_BODY_BYTES);
    assert_eq!(BodyCap::new(1).get(), MIN_BATCH_BODY_BYTES);
}

#[test]
fn refusals_are_recognised_from_a_node_and_through_a_relay() {
    assert!(is_too_large_status(413));
    assert!(!is_too_large_status(404));
    let relay = BatchResponse {
        r: Vec::new(),
        e: Some("tunnel batch HTTP 413".into()),
    };
    assert!(is_relay_too_large(&relay));
    let other = BatchResponse {
        r: Vec::new(),
        e: Some("tunnel batch HTTP 502".into()),
    };
    assert!(!is_relay_too_large(&other));
    let answered = BatchResponse {
        r: vec![Reply::gone("s")],
        e: Some("tunnel batch HTTP 413".into()),
    };
    assert!(!is_relay_too_large(&answered), "replies mean ops ran");
}

#[test]
fn a_refused_batch_splits_at_op_boundaries_and_keeps_closes_last() {
    let oh = overhead("k");
    let big = data("a", 600_000, Some(0));
    let next = data("a", 600_000, Some(1));
    let other = data("b", 10, None);
    let close = BatchOp::close("c");
    let batch = Batch {
        ops: vec![big.clone(), next.clone(), other.clone(), close.clone()],
        tags: vec!["big", "next", "other", "close"],
    };
    let cap = 1_000_000;
    let out = repack(batch, cap, oh);
    let parts: Vec<Vec<&str>> = out.parts.iter().map(|p| p.tags.clone()).collect();
    assert_eq!(parts, vec![vec!["big"], vec!["next", "other", "close"]]);
    assert!(out.too_large.is_empty() && out.refused.is_empty());
}

#[test]
fn a_lone_refused_op_goes_back_to_its_session_or_fails() {
    let oh = overhead("k");
    let lone = |op: BatchOp| {
        repack(
            Batch {
                ops: vec![op],
                tags: vec![()],
            },
            1 << 20,
            oh,
        )
    };
    // Small enough for the cap, yet refused alone: the node's limit is lower still, so the
    // session must carry the bytes in smaller ops.
    let out = lone(data("a", 1000, Some(3)));
    assert_eq!(out.too_large.len(), 1);
    assert!(out.parts.is_empty());
    let out = lone(BatchOp::connect_data("h", 443, b"hello"));
    assert_eq!(out.too_large.len(), 1);
    // Nothing to split: never resent as it is (it would be refused forever).
    let out = lone(BatchOp::udp_open("h", 53, &[1; 900]));
    assert_eq!(out.refused.len(), 1);
    assert!(out.parts.is_empty() && out.too_large.is_empty());
    let out = lone(data("a", 0, Some(4)));
    assert_eq!(out.refused.len(), 1, "a poll has no bytes to split");
}

#[test]
fn a_too_large_op_goes_back_with_its_bytes_and_the_size_that_fits() {
    let oh = overhead("k");
    let op = data("9b1b7ac4-0d1f-4c5e-9a48-3f3f1d2e7c11", 5000, Some(9));
    let OpFailure::TooLarge { payload, max } = too_large(&op, 3000, oh) else {
        panic!("not TooLarge");
    };
    assert_eq!(payload, vec![0xa5; 5000]);
    let smaller = data("9b1b7ac4-0d1f-4c5e-9a48-3f3f1d2e7c11", max, Some(9));
    assert!(body_len(oh, [&smaller]) <= 3000);
    let why = refused(&BatchOp::udp_open("h", 53, &[0; 10]), 40_000).to_string();
    assert!(
        why.contains("40000-byte") && why.contains("udp_open"),
        "{why}"
    );
}
