//! Long-poll, active deadline, settle and reaping (§5.1, §5.3). Lower bounds are asserted
//! ("not before the long-poll deadline"); upper bounds only as liveness with a wide margin.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

use crate::common::*;

#[tokio::test]
async fn a_pure_poll_batch_is_held_until_the_long_poll_deadline() {
    let n = node(|c| c.params.longpoll_deadline = Duration::from_millis(700)).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let t0 = Instant::now();
    let r = n.op(json!({"op":"data","sid":sid})).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(r, json!({"sid":sid,"eof":false}));
}

#[tokio::test]
async fn a_long_poll_returns_with_a_push() {
    let n = node(|c| c.params.longpoll_deadline = Duration::from_secs(600)).await;
    let up = server(|mut s| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = s.write_all(b"push").await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let sid = n.connect(up).await;
    let r = within(
        "a long-poll with a push",
        n.op(json!({"op":"data","sid":sid})),
    )
    .await;
    assert_eq!(d(&r), b"push");
}

#[tokio::test]
async fn an_active_batch_does_not_wait_for_the_long_poll() {
    let n = node(|c| c.params.longpoll_deadline = Duration::from_secs(600)).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let r = within(
        "an active batch",
        n.op(json!({"op":"data","sid":sid,"d":b64(b"w")})),
    )
    .await;
    assert_eq!(r, json!({"sid":sid,"eof":false}));
    rec.wait("w", |r| r.bytes(0) == b"w").await;
}

#[tokio::test]
async fn settle_collects_a_multi_packet_answer_in_one_reply() {
    let n = node(|c| c.params.settle_step = Duration::from_millis(200)).await;
    let up = server(|mut s| async move {
        let mut buf = [0u8; 16];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
        for part in [&b"one "[..], b"two ", b"three"] {
            let _ = s.write_all(part).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let sid = n.connect(up).await;
    let r = n.op(json!({"op":"data","sid":sid,"d":b64(b"go")})).await;
    assert_eq!(d(&r), b"one two three");
}

#[tokio::test]
async fn idle_sessions_are_reaped_and_polled_ones_are_not() {
    let n = node(|c| {
        c.params.tcp_idle_timeout = Duration::from_secs(2);
        c.params.reap_interval = Duration::from_millis(200);
        c.params.longpoll_deadline = Duration::from_millis(600);
    })
    .await;
    let up = echo().await;
    let idle = n.connect(up).await;
    let polled = n.connect(up).await;
    let t0 = Instant::now();
    let mut seq = 0;
    while t0.elapsed() < Duration::from_secs(4) {
        let r = n.op(json!({"op":"data","sid":polled,"seq":seq})).await;
        assert_eq!(r["eof"], false, "the long-polled session was reaped: {r}");
        seq += 1;
    }
    assert_eq!(
        n.op(json!({"op":"data","sid":idle})).await,
        json!({"sid":idle,"eof":true})
    );
}
