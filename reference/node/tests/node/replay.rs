//! Replay-safe seq at the node (§7.10), over real sockets: a retransmit gets the held reply
//! byte for byte and writes nothing again, `ack` releases, a released seq is refused with
//! `SEQ_RELEASED`, a copy of a running seq waits for the original, and every limit holds at
//! its edge.

use std::time::Duration;

use seqtun_wire::{CAPS_PIPELINE_SEQ, CAPS_REPLAY_SAFE, CODE_SEQ_RELEASED};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::common::*;

fn data(sid: &str, seq: u64, ack: Option<u64>, bytes: &[u8]) -> Value {
    let mut op = json!({"op":"data","sid":sid,"seq":seq,"d":b64(bytes)});
    if let Some(ack) = ack {
        op["ack"] = json!(ack);
    }
    op
}

/// Held reply bytes the node reports, all sessions.
fn held(n: &TestNode) -> usize {
    n.handle.state.table.held_reply_bytes()
}

#[tokio::test]
async fn a_retransmit_gets_the_held_reply_and_nothing_is_written_twice() {
    let n = node(|_| {}).await;
    let (addr, rec) = sink().await;
    let sid = n.connect(addr).await;
    let first = n.op(data(&sid, 0, Some(0), b"hello")).await;
    rec.wait("the first write", |r| r.bytes(0) == b"hello")
        .await;
    let again = n.op(data(&sid, 0, Some(0), b"hello")).await;
    assert_eq!(
        again, first,
        "the retransmit must get the reply the original got"
    );
    assert!(held(&n) > 0);
    // Held replies are the memory budget's `held` use (§5.6, §7.10).
    let (_, stats) = n.get("/stats").await;
    let stats: Value = serde_json::from_slice(&stats).unwrap();
    assert_eq!(stats["memory"]["held"], held(&n), "{stats}");
    let (_, metrics) = n.get("/metrics").await;
    let line = format!("seqtun_node_memory_used_bytes{{use=\"held\"}} {}", held(&n));
    assert!(
        String::from_utf8_lossy(&metrics).contains(&line),
        "no {line}"
    );
    // The next seq proves the session went on; the sink saw each byte once.
    let next = n.op(data(&sid, 1, Some(1), b"!")).await;
    assert_eq!(next["seq"], 1, "{next}");
    rec.wait("the second write", |r| r.bytes(0).len() == 6)
        .await;
    assert_eq!(rec.bytes(0), b"hello!");
}

#[tokio::test]
async fn a_retransmit_gets_the_same_downlink_bytes_and_eof_not_new_ones() {
    let n = node(|_| {}).await;
    let sid = n.connect(source(b"only once".to_vec()).await).await;
    let mut first = n.op(data(&sid, 0, Some(0), b"")).await;
    let mut seq = 0;
    // The bytes and the eof may take a poll or two to arrive; each poll acknowledges nothing.
    while d(&first).is_empty() && first["eof"] != true {
        seq += 1;
        first = n.op(data(&sid, seq, Some(0), b"")).await;
    }
    let again = n.op(data(&sid, seq, Some(0), b"")).await;
    assert_eq!(again, first);
    assert!(!d(&again).is_empty() || again["eof"] == true, "{again}");
}

#[tokio::test]
async fn an_acknowledged_reply_is_released_and_its_retransmit_is_refused_with_seq_released() {
    let n = node(|_| {}).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    n.op(data(&sid, 0, Some(0), b"a")).await;
    let before = held(&n);
    n.op(data(&sid, 1, Some(1), b"b")).await;
    assert!(held(&n) <= before, "ack 1 releases seq 0's reply");
    let r = n.op(data(&sid, 0, Some(1), b"a")).await;
    assert_eq!(r["code"], CODE_SEQ_RELEASED, "{r}");
    assert!(r["e"].as_str().unwrap().contains("no longer held"), "{r}");
    assert_eq!(r["seq"], 0, "{r}");
}

#[tokio::test]
async fn without_ack_nothing_is_held() {
    let n = node(|_| {}).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    let first = n
        .op(json!({"op":"data","sid":sid,"seq":0,"d":b64(b"x")}))
        .await;
    assert!(first["e"].is_null(), "{first}");
    assert_eq!(held(&n), 0);
    let again = n
        .op(json!({"op":"data","sid":sid,"seq":0,"d":b64(b"x")}))
        .await;
    assert!(
        again["e"].as_str().unwrap().contains("already processed"),
        "{again}"
    );
    assert!(
        again["code"].is_null(),
        "an old client gets §7.5's error: {again}"
    );
}

#[tokio::test]
async fn a_copy_of_a_running_seq_waits_for_the_original_and_gets_its_reply() {
    let n = std::sync::Arc::new(node(|_| {}).await);
    // The origin answers 300 ms after the session opens: seq 0 long-polls until then.
    let addr = server(|mut s| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = s.write_all(b"late").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let sid = n.connect(addr).await;
    let (n2, sid2) = (std::sync::Arc::clone(&n), sid.clone());
    let original = tokio::spawn(async move { n2.op(data(&sid2, 0, Some(0), b"")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let copy = within("the copy", n.op(data(&sid, 0, Some(0), b""))).await;
    let original = within("the original", original).await.unwrap();
    assert_eq!(
        copy, original,
        "the copy waits and gets the original's reply"
    );
    assert_eq!(d(&copy), b"late", "{copy}");
}

#[tokio::test]
async fn the_held_count_limit_releases_the_oldest_reply_at_its_edge() {
    let n = node(|c| c.params.replay_max_held = 2).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    let r0 = n.op(data(&sid, 0, Some(0), b"0")).await;
    n.op(data(&sid, 1, Some(0), b"1")).await;
    // Two held: seq 0 is still there.
    assert_eq!(n.op(data(&sid, 0, Some(0), b"0")).await, r0);
    n.op(data(&sid, 2, Some(0), b"2")).await;
    // A third pushes the oldest out.
    let r = n.op(data(&sid, 0, Some(0), b"0")).await;
    assert_eq!(r["code"], CODE_SEQ_RELEASED, "{r}");
    assert!(n.op(data(&sid, 1, Some(0), b"1")).await["e"].is_null());
}

#[tokio::test]
async fn the_session_byte_limit_releases_the_oldest_reply_at_its_edge() {
    let n = node(|c| c.params.replay_max_session_bytes = 128).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    n.op(data(&sid, 0, Some(0), b"0")).await;
    let one = held(&n);
    assert!(
        one > 0 && 2 * one <= 128 && 3 * one > 128,
        "a reply holds {one} bytes"
    );
    n.op(data(&sid, 1, Some(0), b"1")).await;
    assert_eq!(held(&n), 2 * one, "two fit in 128 bytes");
    n.op(data(&sid, 2, Some(0), b"2")).await;
    assert_eq!(held(&n), 2 * one, "a third releases the oldest");
    let r = n.op(data(&sid, 0, Some(0), b"0")).await;
    assert_eq!(r["code"], CODE_SEQ_RELEASED, "{r}");
}

#[tokio::test]
async fn the_node_byte_limit_does_not_hold_a_reply_that_does_not_fit() {
    let n = node(|c| c.params.replay_max_node_bytes = 100).await;
    let (addr, _rec) = sink().await;
    let a = n.connect(addr).await;
    let b = n.connect(addr).await;
    n.op(data(&a, 0, Some(0), b"0")).await;
    let one = held(&n);
    assert!(
        one > 0 && one <= 100 && 2 * one > 100,
        "a reply holds {one} bytes"
    );
    n.op(data(&b, 0, Some(0), b"0")).await;
    assert_eq!(held(&n), one, "the second session's reply does not fit");
    let r = n.op(data(&b, 0, Some(0), b"0")).await;
    assert_eq!(r["code"], CODE_SEQ_RELEASED, "{r}");
}

#[tokio::test]
async fn closing_a_session_releases_what_it_held() {
    let n = node(|_| {}).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    n.op(data(&sid, 0, Some(0), b"abc")).await;
    assert!(held(&n) > 0);
    n.op(json!({"op":"close","sid":sid})).await;
    assert_eq!(held(&n), 0);
}

#[tokio::test]
async fn no_held_replies_turns_caps_bit_1_off() {
    let n = node(|c| c.params.replay_max_held = 0).await;
    let (addr, _rec) = sink().await;
    let r = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":addr.port()}))
        .await;
    assert!(
        has_cap(&r, CAPS_PIPELINE_SEQ) && !has_cap(&r, CAPS_REPLAY_SAFE),
        "{r}"
    );
    let sid = r["sid"].as_str().unwrap();
    n.op(data(sid, 0, Some(0), b"x")).await;
    assert_eq!(held(&n), 0);
}

#[tokio::test]
async fn held_replies_count_against_the_memory_budget() {
    let n = node(|_| {}).await;
    let (addr, _rec) = sink().await;
    let sid = n.connect(addr).await;
    let before = n.handle.state.memory().snapshot();
    n.op(data(&sid, 0, Some(0), b"abc")).await;
    let after = n.handle.state.memory().snapshot();
    assert_eq!(after.held, before.held + held(&n) as u64, "{after:?}");
    n.op(json!({"op":"close","sid":sid})).await;
    assert_eq!(n.handle.state.memory().snapshot().held, before.held);
}
