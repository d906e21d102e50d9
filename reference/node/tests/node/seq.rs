//! PR #903 pipelining at the node (§7).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

const LONG: Duration = Duration::from_secs(600);

fn data(sid: &str, seq: u64, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        json!({"op":"data","sid":sid,"seq":seq})
    } else {
        json!({"op":"data","sid":sid,"seq":seq,"d":b64(bytes)})
    }
}

/// Sends one op in its own batch, in the background.
fn spawn_op(n: &Arc<TestNode>, op: Value) -> tokio::task::JoinHandle<Value> {
    let n = Arc::clone(n);
    tokio::spawn(async move { n.op(op).await })
}

/// Waits until the session has `k` ops waiting at its gate.
async fn until_waiting(n: &TestNode, sid: &str, k: usize) {
    within("ops to reach the gate", async {
        while n
            .handle
            .state
            .table
            .tcp(sid)
            .is_some_and(|s| s.gate.lock().unwrap().waiting() < k)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn seq_zero_runs_at_once_and_is_echoed() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let r = n.op(data(&sid, 0, b"A")).await;
    assert_eq!(r["seq"], 0);
    assert_eq!(d(&r), b"A");
}

#[tokio::test]
async fn a_later_seq_waits_for_its_predecessor_in_both_directions() {
    let n = Arc::new(node(|c| c.params.seq_wait_timeout = LONG).await);
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let one = spawn_op(&n, data(&sid, 1, b"second"));
    until_waiting(&n, &sid, 1).await;
    assert!(
        rec.bytes(0).is_empty(),
        "seq 1 must not be written before seq 0"
    );
    let zero = n.op(data(&sid, 0, b"first")).await;
    let one = within("seq 1", one).await.unwrap();
    assert_eq!(
        (zero["seq"].clone(), one["seq"].clone()),
        (json!(0), json!(1))
    );
    rec.wait("both writes", |r| r.bytes(0).len() == 11).await;
    assert_eq!(rec.bytes(0), b"firstsecond");
}

#[tokio::test]
async fn downlink_of_a_lower_seq_precedes_a_higher_one() {
    let n = Arc::new(node(|c| c.params.seq_wait_timeout = LONG).await);
    let up = echo().await;
    let sid = n.connect(up).await;
    // seq 1 is sent first and must still come back with the second half of the stream.
    let one = spawn_op(&n, data(&sid, 1, b"B"));
    until_waiting(&n, &sid, 1).await;
    let zero = n.op(data(&sid, 0, b"A")).await;
    let one = within("seq 1", one).await.unwrap();
    assert_eq!(d(&zero), b"A");
    assert_eq!(d(&one), b"B");
}

#[tokio::test]
async fn buffered_bytes_go_to_the_lowest_seq() {
    let n = Arc::new(node(|c| c.params.seq_wait_timeout = LONG).await);
    let payload: Vec<u8> = (0..200u8).collect();
    let up = source(payload.clone()).await;
    let sid = n.connect(up).await;
    within("buffering", async {
        while n
            .handle
            .state
            .table
            .tcp(&sid)
            .is_some_and(|s| s.buffered() < 200)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let one = spawn_op(&n, data(&sid, 1, b""));
    until_waiting(&n, &sid, 1).await;
    let zero = n.op(data(&sid, 0, b"")).await;
    let one = within("seq 1", one).await.unwrap();
    assert_eq!(d(&zero), payload);
    assert!(d(&one).is_empty(), "{one}");
}

#[tokio::test]
async fn a_duplicate_seq_is_rejected_and_writes_nothing() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    for (seq, byte) in (0..5).zip(b"01234") {
        let r = n.op(data(&sid, seq, &[*byte])).await;
        assert!(r.get("e").is_none(), "{r}");
    }
    let r = n.op(data(&sid, 3, b"X")).await;
    assert_eq!(
        r,
        json!({"e":"seq 3 already processed (expected 5)","seq":3})
    );
    n.op(data(&sid, 5, b"Z")).await;
    rec.wait("six bytes", |r| r.bytes(0).len() >= 6).await;
    assert_eq!(rec.bytes(0), b"01234Z");
}

#[tokio::test]
async fn the_same_seq_twice_in_flight_is_refused() {
    let n = Arc::new(node(|c| c.params.seq_wait_timeout = LONG).await);
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let first = spawn_op(&n, data(&sid, 1, b"B"));
    until_waiting(&n, &sid, 1).await;
    let dup = n.op(data(&sid, 1, b"B")).await;
    assert_eq!(
        dup,
        json!({"e":"seq 1 already in progress (expected 0)","seq":1})
    );
    n.op(data(&sid, 0, b"A")).await;
    within("seq 1", first).await.unwrap();
    rec.wait("two bytes", |r| r.bytes(0).len() >= 2).await;
    assert_eq!(rec.bytes(0), b"AB");
}

#[tokio::test]
async fn seq_wait_timeout_leaves_expected_alone() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let r = n.op(data(&sid, 3, b"late")).await;
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["seq"], 3);
    let e = r["e"].as_str().unwrap();
    assert!(
        e.starts_with("seq 3 timed out waiting for 0 (waited "),
        "{e}"
    );
    let zero = n.op(data(&sid, 0, b"")).await;
    assert_eq!(zero["seq"], 0);
    assert!(zero.get("e").is_none(), "a later seq 0 still runs: {zero}");
}

#[tokio::test]
async fn bad_base64_consumes_its_seq() {
    let n = node(|c| c.params.seq_wait_timeout = LONG).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let bad = n.op(json!({"op":"data","sid":sid,"seq":0,"d":"@@"})).await;
    assert!(
        bad["e"].as_str().unwrap().starts_with("bad base64: "),
        "{bad}"
    );
    assert_eq!(bad["seq"], 0);
    let next = within("seq 1 after a bad seq 0", n.op(data(&sid, 1, b"ok"))).await;
    assert!(next.get("e").is_none(), "{next}");
    rec.wait("ok", |r| r.bytes(0) == b"ok").await;
}

#[tokio::test]
async fn a_write_failure_consumes_its_seq() {
    let n = node(|c| c.params.seq_wait_timeout = LONG).await;
    // The upstream resets the connection right after accepting it.
    let up = server(|s| async move {
        let _ = s.set_zero_linger();
        drop(s);
    })
    .await;
    let sid = n.connect(up).await;
    within("reset to be seen", async {
        while n
            .handle
            .state
            .table
            .tcp(&sid)
            .is_some_and(|s| !s.upstream_done())
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let r0 = n.op(data(&sid, 0, b"x")).await;
    assert_eq!(r0["seq"], 0);
    let failed = r0["e"]
        .as_str()
        .is_some_and(|e| e.starts_with("write failed: "));
    assert!(failed || r0["eof"] == true, "{r0}");
    let r1 = within("seq 1 after a failed write", n.op(data(&sid, 1, b"y"))).await;
    assert_eq!(r1["seq"], 1);
}

#[tokio::test]
async fn data_then_close_in_one_batch_writes_first() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let r = n
        .batch(json!([data(&sid, 0, b"X"), {"op":"close","sid":sid}]))
        .await;
    assert_eq!(r[0], json!({"sid":sid,"eof":false,"seq":0}));
    assert_eq!(r[1], json!({"sid":sid,"eof":true}));
    rec.wait("close", |r| r.closed(0)).await;
    assert_eq!(rec.bytes(0), b"X");
}

#[tokio::test]
async fn close_then_data_in_one_batch_closes_first() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let r = n
        .batch(json!([{"op":"close","sid":sid}, data(&sid, 0, b"Y")]))
        .await;
    assert_eq!(r[0], json!({"sid":sid,"eof":true}));
    assert_eq!(r[1], json!({"sid":sid,"eof":true,"seq":0}));
    rec.wait("close", |r| r.closed(0)).await;
    assert!(rec.bytes(0).is_empty());
}

#[tokio::test]
async fn a_close_from_another_batch_releases_waiting_ops_without_writing() {
    let n = Arc::new(node(|c| c.params.seq_wait_timeout = LONG).await);
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let waiting = spawn_op(&n, data(&sid, 1, b"never"));
    until_waiting(&n, &sid, 1).await;
    n.op(json!({"op":"close","sid":sid})).await;
    let r = within("the waiting op", waiting).await.unwrap();
    assert_eq!(r, json!({"sid":sid,"eof":true,"seq":1}));
    rec.wait("close", |r| r.closed(0)).await;
    assert!(rec.bytes(0).is_empty());
}

#[tokio::test]
async fn backlog_limit_is_enforced_at_its_edge() {
    let n = Arc::new(
        node(|c| {
            c.params.seq_wait_timeout = LONG;
            c.params.seq_max_waiting = 2;
        })
        .await,
    );
    let up = echo().await;
    let sid = n.connect(up).await;
    let a = spawn_op(&n, data(&sid, 1, b""));
    let b = spawn_op(&n, data(&sid, 2, b""));
    until_waiting(&n, &sid, 2).await;
    let r = n.op(data(&sid, 3, b"")).await;
    assert_eq!(r["seq"], 3);
    assert!(
        r["e"].as_str().unwrap().contains("raise --seq-max-waiting"),
        "{r}"
    );
    n.op(data(&sid, 0, b"go")).await;
    for h in [a, b] {
        let r = within("waiting ops", h).await.unwrap();
        assert!(r.get("e").is_none(), "{r}");
    }
}

#[tokio::test]
async fn an_idle_seq_poll_returns_when_a_sibling_session_is_ready() {
    let n = node(|c| c.params.longpoll_deadline = LONG).await;
    let ready = source(b"ready".to_vec()).await;
    let idle = echo().await;
    let a = n.connect(ready).await;
    let b = n.connect(idle).await;
    within("buffering", async {
        while n
            .handle
            .state
            .table
            .tcp(&a)
            .is_some_and(|s| s.buffered() < 5)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let r = within(
        "a mixed poll batch",
        n.batch(json!([data(&b, 0, b""), data(&a, 0, b"")])),
    )
    .await;
    assert_eq!(r[0], json!({"sid":b,"eof":false,"seq":0}));
    assert_eq!(d(&r[1]), b"ready");
}

/// The ready session's own op runs first and drains it before the idle sibling looks, so the
/// sibling must be woken by the batch, not by what is buffered when it looks.
#[tokio::test]
async fn an_idle_seq_poll_is_woken_even_after_the_ready_sibling_was_drained() {
    let n = node(|c| c.params.longpoll_deadline = LONG).await;
    let ready = server(|mut s| async move {
        let _ = s.write_all(b"ready").await;
        let mut sink = [0u8; 64];
        while matches!(s.read(&mut sink).await, Ok(k) if k > 0) {}
    })
    .await;
    let a = n.connect(ready).await;
    let b = n.connect(echo().await).await;
    within("buffering", async {
        while n
            .handle
            .state
            .table
            .tcp(&a)
            .is_some_and(|s| s.buffered() < 5)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let r = within(
        "a poll batch whose ready session comes first",
        n.batch(json!([data(&a, 0, b""), data(&b, 0, b"")])),
    )
    .await;
    assert_eq!(d(&r[0]), b"ready");
    assert_eq!(r[1], json!({"sid":b,"eof":false,"seq":0}));
}

#[tokio::test]
async fn legacy_mode_ignores_seq_and_offers_no_caps() {
    let n = node(|c| c.legacy = true).await;
    let (up, rec) = sink().await;
    let r = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":up.port()}))
        .await;
    assert!(r.get("caps").is_none(), "{r}");
    let sid = r["sid"].as_str().unwrap().to_string();
    let one = within("seq 1 on a legacy node", n.op(data(&sid, 1, b"B"))).await;
    assert!(one.get("seq").is_none(), "{one}");
    n.op(data(&sid, 0, b"A")).await;
    rec.wait("two bytes", |r| r.bytes(0).len() >= 2).await;
    assert_eq!(rec.bytes(0), b"BA", "arrival order, not seq order");
    let up2 = echo().await;
    let r = n
        .op(json!({"op":"connect_data","host":"127.0.0.1","port":up2.port(),"d":b64(b"x")}))
        .await;
    assert!(r.get("caps").is_none(), "{r}");
}
