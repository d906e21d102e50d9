//! Each injected fault, shown on a real node: what the upstream received tells whether the
//! node saw the request, and the client side shows what the fault did to the reply.

use std::time::Duration;

use hyper::StatusCode;
use seqtun_relay::faults::{Action, DuplicateReply, Source};
use serde_json::json;

use crate::common::*;

/// A chain whose relay plays `script`, one action per call.
async fn scripted(script: Vec<Action>) -> Chain {
    chain(|_| {}, |r| r.faults.source = Source::Script(script)).await
}

/// Two sessions to sinks opened by the first two calls; then `script` plays from call 2, and
/// `ops` writes `to a` and `to b` to them in one batch.
struct TwoSinks {
    c: Chain,
    a: String,
    b: String,
    sinks: [Sink; 2],
    ops: serde_json::Value,
}

async fn two_sinks(script: Vec<Action>) -> TwoSinks {
    let c = scripted([vec![Action::Pass; 2], script].concat()).await;
    let (up_a, sink_a) = sink().await;
    let (up_b, sink_b) = sink().await;
    let a = c.connect(up_a).await;
    let b = c.connect(up_b).await;
    let ops = json!([data(&a, b"to a"), data(&b, b"to b")]);
    TwoSinks {
        c,
        a,
        b,
        sinks: [sink_a, sink_b],
        ops,
    }
}

fn data(sid: &str, bytes: &[u8]) -> serde_json::Value {
    json!({"op":"data","sid":sid,"d":b64(bytes)})
}

fn seq_data(sid: &str, seq: u64, bytes: &[u8]) -> serde_json::Value {
    json!({"op":"data","sid":sid,"seq":seq,"d":b64(bytes)})
}

#[tokio::test]
async fn drop_request_never_reaches_the_node() {
    let c = scripted(vec![Action::Pass, Action::DropRequest, Action::Pass]).await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let lost = c.batch_raw(json!([data(&sid, b"lost")])).await;
    assert!(
        lost.is_err(),
        "the client must see a transport error: {lost:?}"
    );
    c.op(data(&sid, b"after")).await;
    sink.wait_for(b"after").await;
    assert_eq!(sink.accepted(), 1);
    let s = c.relay.stats();
    assert_eq!(s.fault("drop_request"), 1);
    assert_eq!(s.deployment(DEP).node_fetches, 2);
}

#[tokio::test]
async fn drop_reply_loses_the_reply_of_a_processed_request() {
    let c = scripted(vec![Action::Pass, Action::DropReply]).await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let lost = c.batch_raw(json!([data(&sid, b"hello")])).await;
    assert!(
        lost.is_err(),
        "the client must see a transport error: {lost:?}"
    );
    sink.wait_for(b"hello").await;
    assert_eq!(c.relay.stats().fault("drop_reply"), 1);
}

#[tokio::test]
async fn duplicate_writes_twice_on_a_legacy_session() {
    let c = scripted(vec![
        Action::Pass,
        Action::Duplicate {
            reply: DuplicateReply::First,
        },
    ])
    .await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let r = c.op(data(&sid, b"x")).await;
    assert_eq!(r["eof"], false, "{r}");
    // The harm a duplicated batch does without seq: the bytes reach the upstream twice.
    sink.wait_for(b"xx").await;
    let s = c.relay.stats();
    assert_eq!(
        (s.fault("duplicate"), s.deployment(DEP).node_fetches),
        (1, 3)
    );
}

#[tokio::test]
async fn duplicate_of_a_seqd_op_is_refused_by_the_node() {
    let c = scripted(vec![
        Action::Pass,
        Action::Duplicate {
            reply: DuplicateReply::Second,
        },
        Action::Pass,
    ])
    .await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let r = c.op(seq_data(&sid, 0, b"x")).await;
    assert_eq!(r["e"], "seq 0 already processed (expected 1)", "{r}");
    assert_eq!(r["seq"], 0, "{r}");
    let r = c.op(seq_data(&sid, 1, b"y")).await;
    assert_eq!((&r["seq"], r.get("e")), (&json!(1), None), "{r}");
    // Written once: "xxy" would mean the node wrote the duplicate.
    sink.wait_for(b"xy").await;
}

#[tokio::test]
async fn hold_back_lets_a_later_request_overtake() {
    let c = scripted(vec![
        Action::Pass,
        Action::HoldBack {
            after: 1,
            max_ms: 20_000,
        },
        Action::Pass,
    ])
    .await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let c = std::sync::Arc::new(c);
    let first = {
        let (c, sid, done) = (c.clone(), sid.clone(), done.clone());
        tokio::spawn(async move {
            c.op(data(&sid, b"first")).await;
            done.send("first").unwrap();
        })
    };
    eventually("the first request is held", || {
        c.relay.stats().deployment(DEP).held == 1
    })
    .await;
    c.op(data(&sid, b"second")).await;
    done.send("second").unwrap();
    first.await.unwrap();
    assert_eq!(finished.recv().await, Some("second"));
    assert_eq!(finished.recv().await, Some("first"));
    sink.wait_for(b"secondfirst").await;
    let s = c.relay.stats();
    assert_eq!((s.fault("hold_back"), s.deployment(DEP).held), (1, 0));
}

#[tokio::test]
async fn hold_back_gives_up_at_its_maximum() {
    let c = scripted(vec![
        Action::Pass,
        Action::HoldBack {
            after: 1,
            max_ms: 200,
        },
    ])
    .await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let started = std::time::Instant::now();
    c.op(data(&sid, b"late")).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    sink.wait_for(b"late").await;
}

#[tokio::test]
async fn decoy_and_server_error_reach_no_node() {
    let c = scripted(vec![
        Action::Pass,
        Action::Decoy,
        Action::ServerError { status: 503 },
        Action::Pass,
    ])
    .await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let a = c.batch_raw(json!([data(&sid, b"decoyed")])).await.unwrap();
    assert!(a.is_decoy(), "{}", a.text());
    let a = c.batch_raw(json!([data(&sid, b"failed")])).await.unwrap();
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.text().contains("503."), "{}", a.text());
    c.op(data(&sid, b"after")).await;
    sink.wait_for(b"after").await;
    let s = c.relay.stats();
    assert_eq!((s.fault("decoy"), s.fault("server_error")), (1, 1));
}

#[tokio::test]
async fn short_reply_loses_entries_of_processed_ops() {
    let TwoSinks {
        c,
        a,
        sinks: [sink_a, sink_b],
        ops,
        ..
    } = two_sinks(vec![Action::ShortReply { keep: None }]).await;
    let reply = c.batch_raw(ops).await.unwrap().json();
    let r = reply["r"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{reply}");
    assert_eq!(
        r[0]["sid"],
        a.as_str(),
        "the surviving entry is the first: {reply}"
    );
    sink_a.wait_for(b"to a").await;
    sink_b.wait_for(b"to b").await;
    assert_eq!(c.relay.stats().fault("short_reply"), 1);
}

#[tokio::test]
async fn extra_entry_adds_a_foreign_entry_to_the_reply() {
    let TwoSinks {
        c,
        a,
        b,
        sinks: [sink_a, sink_b],
        ops,
    } = two_sinks(vec![
        Action::ExtraEntry { at: None },
        Action::ExtraEntry { at: Some(9) },
    ])
    .await;
    let sids = |reply: &serde_json::Value| -> Vec<String> {
        let r = reply["r"].as_array().unwrap();
        r.iter()
            .map(|e| e["sid"].as_str().unwrap().to_owned())
            .collect()
    };
    let front = c.batch_raw(ops.clone()).await.unwrap().json();
    assert_eq!(sids(&front), ["zz", a.as_str(), b.as_str()], "{front}");
    assert_eq!(front["r"][0], json!({"sid":"zz","d":"QUJD","eof":false}));
    let back = c.batch_raw(ops).await.unwrap().json();
    assert_eq!(sids(&back), [a.as_str(), b.as_str(), "zz"], "{back}");
    sink_a.wait_for(b"to ato a").await;
    sink_b.wait_for(b"to bto b").await;
    assert_eq!(c.relay.stats().fault("extra_entry"), 2);
}

#[tokio::test]
async fn swap_entries_trades_two_sessions_replies_with_equal_seqs() {
    let c = scripted(vec![
        Action::Pass,
        Action::Pass,
        Action::SwapEntries { entries: None },
        Action::SwapEntries { entries: None },
    ])
    .await;
    let (a, b) = (c.connect(echo().await).await, c.connect(echo().await).await);
    let reply = c
        .batch_raw(json!([seq_data(&a, 0, b"AA"), seq_data(&b, 0, b"BB")]))
        .await
        .unwrap()
        .json();
    let r = &reply["r"];
    assert_eq!(
        (&r[0]["sid"], &r[0]["seq"]),
        (&json!(b), &json!(0)),
        "{reply}"
    );
    assert_eq!(
        (&r[1]["sid"], &r[1]["seq"]),
        (&json!(a), &json!(0)),
        "{reply}"
    );
    assert_eq!(d(&r[0]), b"BB");
    assert_eq!(d(&r[1]), b"AA");
    // A one-entry reply has nothing to swap: passed through, not counted.
    let one = c.op(seq_data(&a, 1, b"x")).await;
    assert_eq!(one["sid"], a.as_str(), "{one}");
    assert_eq!(c.relay.stats().fault("swap_entries"), 1);
}

#[tokio::test]
async fn strip_unknown_removes_seq_so_the_node_does_not_echo_it() {
    let c = scripted(vec![Action::Pass, Action::StripUnknown, Action::Pass]).await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let r = c.op(seq_data(&sid, 0, b"a")).await;
    assert_eq!(r.get("seq"), None, "seq reached the node: {r}");
    // The stripped op took the legacy path, so seq 0 is still expected.
    let r = c.op(seq_data(&sid, 0, b"b")).await;
    assert_eq!(r["seq"], 0, "{r}");
    sink.wait_for(b"ab").await;
    assert_eq!(c.relay.stats().fault("strip_unknown"), 1);
}

#[tokio::test]
async fn the_strip_switch_disables_pipelining_end_to_end() {
    let c = chain(|_| {}, |r| r.strip_unknown_fields = true).await;
    let up = echo().await;
    let sid = c.connect(up).await;
    let r = c.op(seq_data(&sid, 0, b"hi")).await;
    assert_eq!(r.get("seq"), None, "{r}");
    assert_eq!(d(&r), b"hi");
    // Not a fault: the switch is configuration, so nothing is counted.
    assert_eq!(c.relay.stats().fault("strip_unknown"), 0);
}
