//! How a session paces its ops against a scripted node (§6.5, §7.8, §7.9): depth, the single
//! idle poll, writes beside a parked poll, half-close.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::common::*;
use crate::scripted::{SID, answer, data_ops, next_data, open, read_to_eof, setup};

const QUIET: Duration = Duration::from_millis(300);

async fn max_outstanding(depth: usize) -> usize {
    let (mut node, c) = setup(|cfg| cfg.params.depth = depth).await;
    let app = open(&mut node, &c, Some(1)).await;
    let (_rd, mut wr) = app.into_split();
    let writer = tokio::spawn(async move {
        for i in 0..200u32 {
            if wr.write_all(&i.to_be_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });
    let mut held: Vec<Asked> = Vec::new();
    let mut most = 0;
    for _ in 0..30 {
        while let Some(asked) = node.maybe_next(Duration::from_millis(60)).await {
            held.push(asked);
        }
        let outstanding: usize = held.iter().map(|a| data_ops(a).len()).sum();
        most = most.max(outstanding);
        if !held.is_empty() {
            answer(held.remove(0), |_| Vec::new());
        }
    }
    writer.abort();
    most
}

#[tokio::test]
async fn depth_is_never_exceeded() {
    assert_eq!(
        max_outstanding(2).await,
        2,
        "depth 2 is used and never exceeded"
    );
    assert_eq!(
        max_outstanding(3).await,
        3,
        "depth 3 is used and never exceeded"
    );
}

#[tokio::test]
async fn an_idle_session_keeps_exactly_one_poll_out() {
    let (mut node, c) = setup(|_| {}).await;
    let _app = open(&mut node, &c, Some(1)).await;
    for seq in 0..3 {
        let asked = next_data(&mut node).await;
        let ops = data_ops(&asked);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["seq"], seq);
        assert!(ops[0].get("d").is_none(), "a poll");
        assert!(
            node.maybe_next(QUIET).await.is_none(),
            "a second op while a poll is out"
        );
        answer(asked, |_| Vec::new());
    }
}

#[tokio::test]
async fn a_write_goes_out_while_a_poll_is_parked() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, Some(1)).await;
    let poll = next_data(&mut node).await;
    assert!(data_ops(&poll)[0].get("d").is_none());
    app.write_all(b"GET /").await.unwrap();
    let write = next_data(&mut node).await;
    let op = data_ops(&write)[0].clone();
    assert_eq!(
        (op["seq"].as_u64(), decode_d(&op)),
        (Some(1), b"GET /".to_vec())
    );
    answer(write, |_| Vec::new());
    answer(poll, |_| b"200".to_vec());
    assert_eq!(read_n(&mut app, 3).await, b"200");
}

#[tokio::test]
async fn a_legacy_write_waits_for_the_poll() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, None).await;
    let poll = next_data(&mut node).await;
    app.write_all(b"GET /").await.unwrap();
    assert!(
        node.maybe_next(QUIET).await.is_none(),
        "legacy keeps one op in flight"
    );
    answer(poll, |_| Vec::new());
    let write = next_data(&mut node).await;
    assert_eq!(decode_d(&data_ops(&write)[0]), b"GET /");
}

#[tokio::test]
async fn half_close_delivers_the_replies_in_flight_then_closes() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, Some(1)).await;
    app.write_all(b"req").await.unwrap();
    app.shutdown().await.unwrap();
    let mut held = Vec::new();
    let mut got_req = false;
    while !got_req {
        let asked = next_data(&mut node).await;
        got_req = data_ops(&asked).iter().any(|op| decode_d(op) == b"req");
        held.push(asked);
    }
    assert!(
        node.maybe_next(QUIET).await.is_none(),
        "no new op after the app's eof"
    );
    for asked in held {
        answer(asked, |op| {
            if decode_d(op) == b"req" {
                b"resp".to_vec()
            } else {
                Vec::new()
            }
        });
    }
    assert_eq!(read_to_eof(&mut app).await, b"resp");
    let close = node.next().await;
    assert_eq!(close.ops(), vec![json!({"op":"close","sid":SID})]);
}
