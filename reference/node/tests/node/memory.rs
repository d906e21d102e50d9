//! The node-wide memory budget (§5.6): upstream buffers pause when the pool is full and nothing
//! is lost, every session keeps moving however full the pool is, bodies beyond the budget are
//! refused with 503, and the books return to zero.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

const BUDGET: usize = 4 << 20;

async fn until(what: &str, mut pred: impl FnMut() -> bool) {
    within(what, async {
        while !pred() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Test (a), small: sessions to fast origins that nobody polls fill the buffer pool and stop
/// there; a session opened afterwards still downloads in full, and every hog's bytes are intact
/// and in order when it is finally read.
#[tokio::test]
async fn unpolled_sessions_stop_at_the_budget_and_cannot_starve_a_new_one() {
    let n = node(|c| c.params.memory_budget = BUDGET).await;
    let mem = std::sync::Arc::clone(n.handle.state.memory());
    let origin = endless().await;
    let mut hogs = Vec::new();
    for _ in 0..12 {
        hogs.push(n.connect(origin).await);
    }
    until("the pool fills", || {
        mem.paused_reads.load(std::sync::atomic::Ordering::Relaxed) >= 12
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let snap = mem.snapshot();
    assert!(snap.used as usize <= BUDGET, "{snap:?}");
    // The pool, plus the floor every session is guaranteed outside it.
    let floors = 12 * mem.floor();
    assert!(
        snap.buffers as usize <= mem.buffer_limit() + floors,
        "{snap:?}"
    );
    assert!(
        snap.buffers as usize > mem.buffer_limit() / 2,
        "pool not filling: {snap:?}"
    );

    // A new session moves 2 MiB while the hogs sit on the pool.
    let want = 2 << 20;
    let late = n.connect(origin).await;
    let got = within("the late session's download", read_n(&n, &late, want)).await;
    assert!(got.len() >= want);
    assert!(counts_from(&got, 0), "the late session's bytes are wrong");

    // Nothing was dropped: a hog's buffer continues the pattern from its start.
    let first = within("a hog's bytes", read_n(&n, &hogs[0], 1 << 20)).await;
    assert!(counts_from(&first, 0), "a hog lost or reordered bytes");
    let peak = mem.snapshot().peak as usize;
    assert!(
        peak <= BUDGET + (4 << 20),
        "peak {peak} far over the budget"
    );

    for sid in hogs.iter().chain([&late]) {
        n.op(json!({"op":"close","sid":sid})).await;
    }
    until("the books return to zero", || mem.used() == 0).await;
}

/// Test (b), small: bodies that do not fit the budget get 503 with the flag to raise, nothing of
/// them runs, and the budget is whole again afterwards.
#[tokio::test]
async fn bodies_beyond_the_budget_get_503_and_run_nothing() {
    let n = node(|c| {
        c.params.memory_budget = 2 << 20;
        c.params.max_body_bytes = 4 << 20;
    })
    .await;
    let (up, rec) = sink().await;
    let pad = "A".repeat((1 << 20) - 200);
    let op = json!({"op":"connect","host":"127.0.0.1","port":up.port(),"pad":pad}).to_string();
    let body = format!(r#"{{"k":"{KEY}","ops":[{op}]}}"#);
    // Four bodies, each half the budget, held half-sent so they overlap.
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
        let head = format!(
            "POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body.as_bytes()[..body.len() - 10])
            .await
            .unwrap();
        conns.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut statuses = Vec::new();
    for mut s in conns {
        let _ = s.write_all(&body.as_bytes()[body.len() - 10..]).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).into_owned();
        if text.starts_with("HTTP/1.1 503") {
            assert!(text.contains("node memory budget spent"), "{text}");
            assert!(text.contains("--memory-budget-bytes"), "{text}");
        }
        statuses.push(text.get(9..12).unwrap_or("").to_string());
    }
    let refused = statuses.iter().filter(|s| *s == "503").count();
    let ok = statuses.iter().filter(|s| *s == "200").count();
    assert!(refused >= 2 && ok >= 1, "{statuses:?}");
    rec.wait("the accepted bodies' connects", |r| r.accepted() == ok)
        .await;
    assert_eq!(
        n.handle.state.memory().snapshot().refused_bodies,
        refused as u64
    );
    let mem = std::sync::Arc::clone(n.handle.state.memory());
    // The sessions' floors stay charged while they live.
    let floors = ok * mem.floor();
    until("bodies and replies given back", || mem.used() == floors).await;
}

/// A connect whose request is gone before its answer leaves no session behind for the reaper.
#[tokio::test]
async fn connects_of_a_request_gone_before_its_answer_are_closed() {
    let n = node(|c| c.params.active_drain_deadline = Duration::from_millis(500)).await;
    let (up, rec) = sink().await;
    let body = json!({"k": KEY, "ops": [{"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"hi")}]}).to_string();
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    let head = format!(
        "POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    rec.wait("the upstream accepted", |r| r.accepted() == 1)
        .await;
    drop(s);
    until("the orphan is closed", || {
        n.handle.state.snapshot().orphans_closed == 1 && n.sessions() == 0
    })
    .await;
    rec.wait("the upstream sees the close", |r| r.closed(0))
        .await;
}

#[tokio::test]
async fn memory_and_connections_are_in_stats_and_metrics() {
    let n = node(|c| c.params.memory_budget = BUDGET).await;
    let (_, body) = n.get("/stats").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["memory"]["budget"], BUDGET);
    assert!(v["memory"]["used"].is_u64() && v["memory"]["buffers"].is_u64());
    assert!(v["connections"]["max"].as_u64().unwrap() > 0);
    let (_, text) = n.get("/metrics").await;
    let text = String::from_utf8_lossy(&text);
    for name in [
        "seqtun_node_memory_budget_bytes 4194304",
        "seqtun_node_memory_used_bytes{use=\"buffers\"}",
        "seqtun_node_connections_open",
        "seqtun_node_connections_closed_total{reason=\"shed\"}",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

/// A connect whose answer went out but whose sid no op ever names (the relay lost the reply) is
/// closed after the unclaimed timeout, not the idle one; a session a data op named stays.
#[tokio::test]
async fn a_session_nobody_names_after_its_answer_is_reaped_as_unclaimed() {
    let n = node(|c| {
        c.params.reap_interval = Duration::from_millis(50);
        // Long enough that the named session's data op lands first on a loaded machine.
        c.params.tcp_unclaimed_timeout = Duration::from_secs(1);
        c.params.longpoll_deadline = Duration::from_millis(50);
    })
    .await;
    let (up, rec) = sink().await;
    let lost = n.connect(up).await;
    let named = n.connect(up).await;
    n.op(json!({"op":"data","sid":named})).await;
    rec.wait("both upstreams accepted", |r| r.accepted() == 2)
        .await;
    until("the unclaimed session is reaped", || {
        n.handle.state.snapshot().orphans_closed == 1
    })
    .await;
    assert_eq!(n.sessions(), 1, "the named session stays");
    rec.wait("the lost session's upstream sees the close", |r| {
        r.closed(0)
    })
    .await;
    let r = n.op(json!({"op":"data","sid":lost})).await;
    assert_eq!(r["eof"], true, "the reaped sid is unknown now (§5.5): {r}");
    let r = n.op(json!({"op":"data","sid":named})).await;
    assert_eq!(r["eof"], false, "{r}");
}
