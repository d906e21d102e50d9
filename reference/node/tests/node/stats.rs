//! What an operator sees: `GET /stats`, `GET /metrics`, and a graceful shutdown that lets an
//! in-flight poll finish.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn stats(n: &TestNode) -> Value {
    let (status, body) = n.get("/stats").await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn stats_count_sessions_bytes_ops_replies_and_wrong_keys() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let pipelined = n.connect(up).await;
    let legacy = n.connect(up).await;
    let r = n
        .op(json!({"op":"data","sid":pipelined,"seq":0,"d":b64(b"hello")}))
        .await;
    assert_eq!(d(&r), b"hello");
    let r = n
        .op(json!({"op":"data","sid":legacy,"d":b64(b"abc")}))
        .await;
    assert_eq!(d(&r), b"abc");
    let closed = closed_port().await;
    let r = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":closed.port()}))
        .await;
    assert!(r["e"].is_string(), "{r}");
    let (status, _, _) = n
        .post("/tunnel/batch", json!({"k":"wrong","ops":[]}).to_string())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let s = stats(&n).await;
    assert_eq!(s["live"]["tcp_pipelined"], 1, "{s}");
    assert_eq!(s["live"]["tcp_legacy"], 1, "{s}");
    assert_eq!(s["tcp_opened"], 2, "{s}");
    assert_eq!(s["bytes_up"], 8, "{s}");
    assert_eq!(s["bytes_down"], 8, "{s}");
    assert_eq!(s["batches"], 5, "{s}");
    assert_eq!(s["ops"]["connect"], 3, "{s}");
    assert_eq!(s["ops"]["data"], 2, "{s}");
    assert_eq!(s["replies"]["data"], 2, "{s}");
    assert_eq!(s["replies"]["error"], 1, "{s}");
    assert_eq!(s["replies"]["empty"], 2, "connect replies: {s}");
    assert_eq!(s["unauthorized"], 1, "{s}");
    // Rates since start (the first minute): every batch so far, over the seconds since then.
    let rates = &s["rates"];
    let window = rates["window_secs"].as_f64().unwrap();
    let per_sec = rates["batches_per_sec"].as_f64().unwrap();
    assert!(window > 0.0 && window <= 60.0, "{s}");
    assert!(per_sec > 0.0 && (per_sec * window - 5.0).abs() < 0.5, "{s}");
    for name in ["ops_per_sec", "bytes_up_per_sec", "bytes_down_per_sec"] {
        assert!(rates[name].as_f64().unwrap() > 0.0, "{name}: {s}");
    }

    let (status, text) = n.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&text);
    for line in [
        "seqtun_node_sessions_live{kind=\"tcp\",dialect=\"pipelined\"} 1",
        "seqtun_node_bytes_up_total 8",
        "seqtun_node_ops_total{op=\"connect\"} 3",
        "seqtun_node_replies_total{outcome=\"error\"} 1",
        "seqtun_node_unauthorized_total 1",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn seq_waits_preemptions_and_buffered_bytes_are_counted() {
    let n = Arc::new(
        node(|c| {
            c.params.longpoll_deadline = Duration::from_secs(600);
            c.params.seq_wait_timeout = Duration::from_secs(600);
        })
        .await,
    );
    let up = echo().await;
    let sid = n.connect(up).await;
    let poll = {
        let n = Arc::clone(&n);
        let sid = sid.clone();
        tokio::spawn(async move { n.op(json!({"op":"data","sid":sid,"seq":0})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let write = n
        .op(json!({"op":"data","sid":sid,"seq":1,"d":b64(b"k")}))
        .await;
    assert_eq!(d(&write), b"k");
    within("the preempted poll", poll).await.unwrap();
    let s = stats(&n).await;
    assert_eq!(s["seq_waits"], 1, "{s}");
    assert_eq!(s["preemptions"], 1, "{s}");

    let src = source(vec![7u8; 1000]).await;
    let held = n.connect(src).await;
    within("buffering", async {
        while n
            .handle
            .state
            .table
            .tcp(&held)
            .is_some_and(|s| s.buffered() < 1000)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(stats(&n).await["live"]["buffered_bytes"], 1000);
}

#[tokio::test]
async fn shutdown_lets_a_parked_poll_answer_within_the_grace_period() {
    let n = node(|c| c.params.longpoll_deadline = Duration::from_secs(600)).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let url = format!("{}/tunnel/batch", n.handle.url());
    let body = json!({"k":KEY,"ops":[{"op":"data","sid":sid,"seq":0}]}).to_string();
    let poll = tokio::spawn(async move {
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let req = hyper::Request::post(url)
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let resp = http
            .request(req)
            .await
            .expect("an answer, not a dropped connection");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&body.to_bytes()).unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = within(
        "a graceful shutdown",
        n.handle.shutdown_within(Duration::from_secs(5)),
    )
    .await;
    let reply = within("the in-flight poll", poll).await.unwrap();
    assert_eq!(reply["r"][0], json!({"sid":sid,"eof":false,"seq":0}));
    assert_eq!(last.batches, 2, "{last:?}");
}
