use super::*;
use crate::b64;

fn data(sid: &str, seq: Option<u64>) -> Expect {
    Expect::of(&BatchOp::data(sid, b"", seq))
}

fn open() -> Expect {
    Expect::of(&BatchOp::connect_data("h", 443, b"hi"))
}

fn drained(sid: &str, bytes: &[u8], seq: Option<u64>) -> Reply {
    Reply::drained(sid, bytes, false).with_seq(seq)
}

fn resp(r: Vec<Reply>) -> BatchResponse {
    BatchResponse { r, e: None }
}

fn run(r: Vec<Reply>, ops: &[Expect]) -> Split {
    split(resp(r), ops, &ClientFaults::default())
}

fn foreign() -> Reply {
    Reply {
        sid: Some("zz".into()),
        d: Some("QUJD".into()),
        eof: Some(false),
        ..Reply::default()
    }
}

#[test]
fn an_exact_r_reaches_every_op() {
    let ops = [data("a", Some(0)), data("b", Some(0)), open()];
    let r = vec![
        drained("a", b"A", Some(0)),
        drained("b", b"B", Some(0)),
        drained("new", b"N", None).with_caps(Some(1)),
    ];
    let out = run(r.clone(), &ops);
    assert!(out.clean);
    assert_eq!(out.results, r.into_iter().map(Ok).collect::<Vec<_>>());
}

#[test]
fn only_opens_are_exempt_from_the_sid_check() {
    for kind in ["connect", "connect_data", "udp_open"] {
        let op = BatchOp {
            op: kind.into(),
            host: Some("h".into()),
            port: Some(53),
            ..BatchOp::default()
        };
        assert_eq!(Expect::of(&op).sid, None, "{kind}");
    }
    assert_eq!(
        Expect::of(&BatchOp::close("s")).sid.as_deref(),
        Some("s"),
        "close names its session"
    );
    assert_eq!(
        Expect::of(&BatchOp::udp_data("u", b"x")).sid.as_deref(),
        Some("u")
    );
}

#[test]
fn a_short_r_fails_every_op() {
    let ops = [data("a", None), data("b", None), data("c", None)];
    let out = run(
        vec![drained("a", b"A", None), drained("b", b"B", None)],
        &ops,
    );
    assert!(!out.clean);
    let want = OpFailure::Missing { got: 2, want: 3 };
    assert_eq!(out.results, vec![Err(want.clone()); 3]);
    assert!(want.to_string().starts_with("missing response in batch"));
    // A deletion in the middle would otherwise hand b's bytes to a... or c's to b.
    let out = run(vec![drained("b", b"B", None)], &ops[..2]);
    assert!(out.results.iter().all(Result::is_err));
}

#[test]
fn an_extra_leading_or_trailing_entry_fails_every_op() {
    let ops = [data("a", None), data("b", None)];
    let a = drained("a", b"A", None);
    let b = drained("b", b"B", None);
    for r in [
        vec![foreign(), a.clone(), b.clone()],
        vec![a.clone(), b.clone(), foreign()],
        vec![a.clone(), a.clone(), b.clone()],
    ] {
        let out = run(r, &ops);
        assert!(!out.clean);
        assert_eq!(
            out.results,
            vec![Err(OpFailure::Extra { got: 3, want: 2 }); 2]
        );
    }
}

#[test]
fn swapped_entries_with_equal_seqs_fail_both_ops() {
    let ops = [data("a", Some(3)), data("b", Some(3)), data("c", Some(0))];
    let c = drained("c", b"C", Some(0));
    let out = run(
        vec![
            drained("b", b"B", Some(3)),
            drained("a", b"A", Some(3)),
            c.clone(),
        ],
        &ops,
    );
    assert!(!out.clean);
    assert_eq!(
        out.results[0],
        Err(OpFailure::ForeignSid {
            sent: "a".into(),
            got: "b".into()
        })
    );
    assert!(matches!(out.results[1], Err(OpFailure::ForeignSid { .. })));
    assert_eq!(
        out.results[2],
        Ok(c),
        "an op whose reply is its own keeps it"
    );
}

#[test]
fn a_foreign_sid_fails_its_op() {
    let out = run(vec![foreign()], &[data("a", None)]);
    let err = out.results[0].clone().unwrap_err();
    assert_eq!(
        err,
        OpFailure::ForeignSid {
            sent: "a".into(),
            got: "zz".into()
        }
    );
    assert!(err.to_string().contains("\"zz\""), "{err}");
}

#[test]
fn a_reply_without_sid_passes_only_as_an_error() {
    let ops = [data("a", Some(0)), data("b", None)];
    let refused = Reply {
        e: Some("seq 0 rejected: full".into()),
        seq: Some(0),
        ..Reply::default()
    };
    let anonymous = Reply {
        d: Some(b64::encode(b"whose?")),
        eof: Some(false),
        ..Reply::default()
    };
    let out = run(vec![refused.clone(), anonymous], &ops);
    assert_eq!(out.results[0], Ok(refused));
    assert_eq!(out.results[1], Err(OpFailure::NoSid { sent: "b".into() }));
}

#[test]
fn a_seq_the_op_was_not_sent_with_fails_it() {
    let ops = [data("a", Some(1)), data("b", None), open()];
    let out = run(
        vec![
            drained("a", b"A", Some(2)),
            drained("b", b"B", Some(0)),
            drained("new", b"N", Some(0)),
        ],
        &ops,
    );
    assert_eq!(
        out.results,
        vec![
            Err(OpFailure::UnsentSeq {
                sent: Some(1),
                got: 2
            }),
            Err(OpFailure::UnsentSeq { sent: None, got: 0 }),
            Err(OpFailure::UnsentSeq { sent: None, got: 0 }),
        ]
    );
    assert!(
        out.results[1]
            .clone()
            .unwrap_err()
            .to_string()
            .contains("no seq")
    );
    // A missing seq is not this module's call: the pipeline downgrades on it (§7.8).
    let out = run(vec![drained("a", b"A", None)], &ops[..1]);
    assert!(out.clean);
}

#[test]
fn an_open_reply_may_not_name_a_sid_already_in_the_batch() {
    let ops = [data("a", None), open(), open()];
    // A data reply moved onto an open: its sid belongs to op 0.
    let out = run(
        vec![
            drained("x", b"", None),
            drained("a", b"A", None),
            drained("y", b"", None),
        ],
        &ops,
    );
    assert_eq!(out.results[1], Err(OpFailure::TakenSid { got: "a".into() }));
    assert_eq!(out.results[2], Ok(drained("y", b"", None)));
    // One open's reply copied over another's.
    let out = run(
        vec![
            drained("a", b"A", None),
            drained("x", b"X", None),
            drained("x", b"X", None),
        ],
        &ops,
    );
    assert!(out.results[0].is_ok());
    assert_eq!(
        out.results[1..],
        [
            Err(OpFailure::TakenSid { got: "x".into() }),
            Err(OpFailure::TakenSid { got: "x".into() })
        ]
    );
}

#[test]
fn a_whole_request_error_reaches_every_op() {
    let bad = Reply {
        e: Some("bad json: expected value".into()),
        ..Reply::default()
    };
    let ops = [data("a", None), data("b", None), data("c", None)];
    let out = run(vec![bad.clone()], &ops);
    assert_eq!(out.results, vec![Ok(bad.clone()); 3]);
    assert!(!out.clean);
    assert_eq!(run(vec![bad.clone()], &ops[..1]).results, vec![Ok(bad)]);
    // A one-entry r whose entry is an ordinary op error is just short.
    let refused = Reply {
        e: Some("connect failed: refused".into()),
        ..Reply::default()
    };
    let out = run(vec![refused], &[open(), open()]);
    assert_eq!(
        out.results,
        vec![Err(OpFailure::Missing { got: 1, want: 2 }); 2]
    );
}

#[test]
fn a_relay_error_fails_every_op() {
    let resp = BatchResponse {
        r: vec![drained("a", b"A", None)],
        e: Some("tunnel batch HTTP 502".into()),
    };
    let out = split(resp, &[data("a", None)], &ClientFaults::default());
    assert!(!out.clean);
    assert_eq!(
        out.results,
        vec![Err(OpFailure::Batch(
            "relay error: tunnel batch HTTP 502".into()
        ))]
    );
}

/// The mutant the conformance suite must catch: the deployed rule hands a leading entry's bytes
/// to op 0 and op 0's reply to op 1.
#[test]
fn the_positional_mutant_hands_out_foreign_bytes() {
    let faults = ClientFaults {
        positional_replies: true,
        ..ClientFaults::default()
    };
    let ops = [data("a", None), data("b", None)];
    let r = vec![
        foreign(),
        drained("a", b"A", None),
        drained("b", b"B", None),
    ];
    let out = split(resp(r), &ops, &faults);
    assert!(out.clean, "the mutant takes a longer r as a good batch");
    assert_eq!(out.results[0], Ok(foreign()));
    assert_eq!(out.results[1], Ok(drained("a", b"A", None)));
    let short = split(resp(vec![drained("a", b"A", None)]), &ops, &faults);
    assert_eq!(short.results[0], Ok(drained("a", b"A", None)));
    assert_eq!(
        short.results[1],
        Err(OpFailure::Missing { got: 1, want: 2 })
    );
}
