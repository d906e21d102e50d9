//! Every limit at its edge: a clear error, nothing lost, memory bounded (§9).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::common::*;

#[tokio::test]
async fn session_limit_refuses_the_next_connect_and_frees_on_close() {
    let n = node(|c| c.params.max_sessions = 2).await;
    let up = echo().await;
    let a = n.connect(up).await;
    let _b = n.connect(up).await;
    let r = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":up.port()}))
        .await;
    assert_eq!(
        r,
        json!({"e":"connect failed: session limit reached (2 live sessions; raise --max-sessions)"})
    );
    let r = n
        .op(json!({"op":"udp_open","host":"127.0.0.1","port":up.port(),"d":b64(b"x")}))
        .await;
    assert!(
        r["e"]
            .as_str()
            .unwrap()
            .starts_with("udp connect failed: session limit"),
        "{r}"
    );
    n.op(json!({"op":"close","sid":a})).await;
    n.connect(up).await;
}

#[tokio::test]
async fn ops_per_batch_limit_answers_every_op_and_runs_none() {
    let n = node(|c| c.params.max_batch_ops = 3).await;
    let (up, rec) = sink().await;
    let connect = json!({"op":"connect","host":"127.0.0.1","port":up.port()});
    let ok = n.batch(json!([connect, connect, connect])).await;
    assert!(ok.iter().all(|r| r["sid"].is_string()));
    let r = n.batch(json!([connect, connect, connect, connect])).await;
    for reply in &r {
        assert_eq!(
            reply,
            &json!({"e":"too many ops in batch: 4 > 3 (raise --max-batch-ops)"})
        );
    }
    rec.wait("three accepts", |r| r.accepted() == 3).await;
    n.batch(json!([])).await;
    assert_eq!(rec.accepted(), 3);
}

#[tokio::test]
async fn body_limit_applies_to_plain_and_inflated_bodies() {
    let n = node(|c| c.params.max_body_bytes = 1024).await;
    let fits = json!({"k":KEY,"ops":[{"op":"close","sid":"x".repeat(900)}]}).to_string();
    assert!(fits.len() <= 1024);
    let (status, _, _) = n.post("/tunnel/batch", fits).await;
    assert_eq!(status, StatusCode::OK);
    let big = json!({"k":KEY,"ops":[{"op":"close","sid":"x".repeat(1100)}]}).to_string();
    let (status, _, body) = n.post("/tunnel/batch", big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["r"][0]["e"]
            .as_str()
            .unwrap()
            .contains("raise --max-body-bytes"),
        "{v}"
    );
    // Small on the wire, too big once inflated.
    let gz = seqtun_wire::body::gzip(big.as_bytes());
    assert!(gz.len() < 1024);
    let (status, _, body) = n.post("/tunnel/batch", gz).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let e = v["r"][0]["e"].as_str().unwrap();
    assert!(
        e.starts_with("gzip decode: ") && e.contains("raise --max-body-bytes"),
        "{e}"
    );
}

/// A client that stops polling must not make the node buffer the whole stream: the reader
/// stops at the cap and TCP pushes back on the origin. Then every byte still arrives, in order.
#[tokio::test]
async fn read_buffer_is_bounded_and_loses_nothing() {
    const CAP: usize = 256 * 1024;
    const TOTAL: usize = 48 << 20;
    let n = node(|c| {
        c.params.read_buf_cap = CAP;
        c.params.tcp_drain_max = 1 << 20;
    })
    .await;
    let written = Arc::new(AtomicUsize::new(0));
    let w2 = Arc::clone(&written);
    let up = server(move |mut s| {
        let written = Arc::clone(&w2);
        async move {
            let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 256) as u8).collect();
            let mut sent = 0;
            while sent < TOTAL {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
                written.store(sent, Ordering::SeqCst);
            }
            let _ = s.shutdown().await;
        }
    })
    .await;
    let sid = n.connect(up).await;
    // Wait until the origin is stuck: no progress for 300 ms.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = written.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
        assert!(
            now < TOTAL,
            "the origin wrote everything: nothing pushed back"
        );
    }
    let buffered = n.handle.state.table.tcp(&sid).unwrap().buffered();
    assert!(buffered <= CAP, "buffered {buffered} > cap {CAP}");
    assert!(
        last < TOTAL / 2,
        "origin wrote {last} bytes with the client not polling"
    );
    // Now drain everything and check it byte for byte.
    let mut hasher = Sha256::new();
    let mut got = 0;
    loop {
        let r = n.op(json!({"op":"data","sid":sid})).await;
        let bytes = d(&r);
        got += bytes.len();
        hasher.update(&bytes);
        if r["eof"] == true {
            break;
        }
    }
    assert_eq!(got, TOTAL);
    let mut want = Sha256::new();
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    for _ in 0..TOTAL / chunk.len() {
        want.update(&chunk);
    }
    assert_eq!(hasher.finalize(), want.finalize());
}

/// A refused body is read on for `refused_body_drain` more bytes so that a client still writing
/// it gets the 413; past that the node stops reading and answers at once (the client may see a
/// reset then, but never a hang).
#[tokio::test]
async fn a_refused_body_is_read_on_up_to_the_drain_limit() {
    let n = node(|c| {
        c.params.max_body_bytes = 1000;
        c.params.refused_body_drain = 4 << 20;
    })
    .await;
    let at_edge = vec![b'x'; 1000 + (4 << 20)];
    let (status, _, _) = within("a body at the drain edge", n.post("/tunnel/batch", at_edge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let beyond = vec![b'x'; 1000 + (32 << 20)];
    let answered = within(
        "a body past the drain edge",
        n.try_post("/tunnel/batch", beyond),
    )
    .await;
    if let Ok(status) = answered {
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
    // The node is unharmed either way.
    assert_eq!(n.get("/health").await.0, StatusCode::OK);
}
