//! Each deliberate fault really makes the client misbehave, so the conformance suite can prove
//! its vectors catch it.

use seqtun_client::ClientFaults;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::common::*;
use crate::scripted::{SID, answer, next_data, open, setup};

#[tokio::test]
async fn seq_without_caps_pipelines_a_session_that_was_not_offered_it() {
    let (mut node, c) = setup(|cfg| {
        cfg.faults = ClientFaults {
            seq_without_caps: true,
            ..ClientFaults::default()
        }
    })
    .await;
    let _app = open(&mut node, &c, None).await;
    let asked = next_data(&mut node).await;
    assert_eq!(asked.ops()[0]["seq"], 0, "{:?}", asked.ops());
}

#[tokio::test]
async fn unordered_delivery_writes_replies_as_they_arrive() {
    let (mut node, c) = setup(|cfg| {
        cfg.faults = ClientFaults {
            unordered_delivery: true,
            ..ClientFaults::default()
        }
    })
    .await;
    let mut app = open(&mut node, &c, Some(1)).await;
    let first = next_data(&mut node).await;
    app.write_all(b"B").await.unwrap();
    let second = next_data(&mut node).await;
    answer(second, |_| b"Y".to_vec());
    assert_eq!(read_n(&mut app, 1).await, b"Y", "seq 1's bytes came first");
    answer(first, |_| b"X".to_vec());
    assert_eq!(read_n(&mut app, 1).await, b"X");
}

#[tokio::test]
async fn ignore_missing_seq_carries_on_without_downgrading() {
    let (mut node, c) = setup(|cfg| {
        cfg.faults = ClientFaults {
            ignore_missing_seq: true,
            ..ClientFaults::default()
        }
    })
    .await;
    let mut app = open(&mut node, &c, Some(1)).await;
    let asked = next_data(&mut node).await;
    asked.reply(vec![
        json!({"sid": SID, "eof": false, "d": seqtun_wire::b64::encode(b"unordered")}),
    ]);
    assert_eq!(read_n(&mut app, 9).await, b"unordered");
    let next = next_data(&mut node).await;
    assert_eq!(next.ops()[0]["seq"], 1, "the session went on pipelining");
    assert!(!c.pipelining_disabled());
}
