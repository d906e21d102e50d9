//! The deliberate faults that let the reference node stand in for other dialects really change
//! what it says on the wire; otherwise the conformance runner's compatibility matrix would show
//! a #903 node under another name.

use std::time::Duration;

use seqtun_node::Faults;
use serde_json::{Value, json};

use crate::common::*;

fn no_caps() -> Faults {
    Faults {
        no_caps: true,
        ..Faults::default()
    }
}

async fn single(n: &TestNode, mut req: Value) -> Value {
    req["k"] = json!(KEY);
    let (status, _, body) = n.post("/tunnel", req.to_string()).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn no_caps_drops_caps_from_every_connect_reply_and_keeps_the_seq_echo() {
    let n = node(|c| c.faults = no_caps()).await;
    let up = echo().await;
    let port = up.port();
    let connect = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":port}))
        .await;
    assert!(connect["sid"].is_string(), "{connect}");
    assert!(connect.get("caps").is_none(), "{connect}");
    let batched = n
        .op(json!({"op":"connect_data","host":"127.0.0.1","port":port,"d":b64(b"hi")}))
        .await;
    assert!(batched["sid"].is_string(), "{batched}");
    assert!(batched.get("caps").is_none(), "{batched}");
    for op in ["connect", "connect_data"] {
        let r = single(
            &n,
            json!({"op":op,"host":"127.0.0.1","port":port,"data":b64(b"x")}),
        )
        .await;
        assert!(r["sid"].is_string(), "{op}: {r}");
        assert!(r.get("caps").is_none(), "{op}: {r}");
    }
    let sid = connect["sid"].as_str().unwrap();
    let r = n
        .op(json!({"op":"data","sid":sid,"seq":0,"d":b64(b"A")}))
        .await;
    assert_eq!(r["seq"], 0, "the echo stays: {r}");
    assert_eq!(d(&r), b"A");
}

/// The matrix's NODE-MAIN-like column: no caps, `seq` echoed, nothing held for its turn.
#[tokio::test]
async fn a_node_main_like_node_echoes_a_later_seq_without_holding_it() {
    let n = node(|c| {
        c.params.seq_wait_timeout = Duration::from_secs(600);
        c.faults = Faults {
            no_caps: true,
            unordered_writes: true,
            unordered_drains: true,
            ..Faults::default()
        };
    })
    .await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    // A #903 node would hold seq 1 until seq 0 arrived (up to the ten-minute wait above).
    let r = within(
        "seq 1 without seq 0",
        n.op(json!({"op":"data","sid":sid,"seq":1,"d":b64(b"later")})),
    )
    .await;
    assert_eq!(r["seq"], 1, "{r}");
    rec.wait("the write", |r| r.bytes(0) == b"later").await;
}
