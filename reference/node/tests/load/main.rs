//! Load tests of the release node as a separate process, so its memory is its own: run with
//! `cargo test --release -p seqtun-node --test load -- --ignored --nocapture --test-threads 1`
//! (docs/RELIABILITY.md has the figures and what each run proves). Each is bounded in count
//! and time and prints one `figure:` line per measurement; only loopback is used.

mod proc;
mod slowloris;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use proc::Node;

pub(crate) const KEY: &str = "load-key";

/// An origin that writes as fast as it is read, forever.
async fn endless() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let buf = vec![0x5au8; 64 << 10];
                while s.write_all(&buf).await.is_ok() {}
            });
        }
    });
    addr
}

pub(crate) use seqtun_testkit::origin::echo;

/// One request on a fresh connection; the status and body.
pub(crate) async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: n\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(body).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let status = String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {} bytes", out.len()))?;
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| out[i + 4..].to_vec())
        .unwrap_or_default();
    Ok((status, body))
}

async fn batch(node: &Node, ops: Value) -> Vec<Value> {
    let body = json!({"k": KEY, "ops": ops}).to_string();
    let (status, body) = request(node.addr, "POST", "/tunnel/batch", body.as_bytes())
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["r"].as_array().unwrap().clone()
}

/// (a) 1,000 sessions to fast origins that are never polled.
#[tokio::test]
#[ignore = "load test: run with --release --ignored (docs/RELIABILITY.md)"]
async fn a_thousand_unpolled_sessions_stay_within_the_budget() {
    seqtun_runtime::conn::fd_limit::raise().unwrap();
    let node = Node::start(&[]).await;
    let origin = endless().await;
    let connect = json!({"op":"connect","host":"127.0.0.1","port":origin.port()});
    let started = Instant::now();
    for _ in 0..20 {
        let r = batch(&node, Value::Array(vec![connect.clone(); 50])).await;
        assert!(r.iter().all(|r| r["sid"].is_string()), "{r:?}");
    }
    let mut last = 0;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let used = node.stats().await["memory"]["used"].as_u64().unwrap();
        if used == last && used > 0 {
            break;
        }
        last = used;
    }
    let stats = node.stats().await;
    let (rss, hwm) = node.rss();
    let budget = stats["memory"]["budget"].as_u64().unwrap();
    println!(
        "figure: (a) 1000 unpolled sessions: memory used {} MiB of {} MiB (buffers {} MiB), node RSS {} MiB, peak {} MiB, {:.1} s",
        stats["memory"]["used"].as_u64().unwrap() >> 20,
        budget >> 20,
        stats["memory"]["buffers"].as_u64().unwrap() >> 20,
        rss >> 20,
        hwm >> 20,
        started.elapsed().as_secs_f64()
    );
    assert!(stats["memory"]["used"].as_u64().unwrap() <= budget);
    assert!(hwm <= budget + proc::OVERHEAD, "peak {} MiB", hwm >> 20);
}

/// (b) 50 concurrent 60 MiB request bodies with the right key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run with --release --ignored (docs/RELIABILITY.md)"]
async fn b_fifty_concurrent_60_mib_bodies() {
    seqtun_runtime::conn::fd_limit::raise().unwrap();
    let node = Node::start(&[]).await;
    let pad = "A".repeat(60 << 20);
    let body = std::sync::Arc::new(
        format!(r#"{{"k":"{KEY}","ops":[{{"op":"close","sid":"x","pad":"{pad}"}}]}}"#).into_bytes(),
    );
    drop(pad);
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let body = std::sync::Arc::clone(&body);
            let addr = node.addr;
            tokio::spawn(async move { request(addr, "POST", "/tunnel/batch", &body).await })
        })
        .collect();
    let mut by_status = std::collections::BTreeMap::new();
    for t in tasks {
        let key = match t.await.unwrap() {
            Ok((status, _)) => status.to_string(),
            Err(e) => format!("transport error: {e}"),
        };
        *by_status.entry(key).or_insert(0) += 1;
    }
    let stats = node.stats().await;
    let (_, hwm) = node.rss();
    println!(
        "figure: (b) 50 x 60 MiB bodies: {by_status:?}, node peak RSS {} MiB, budget peak {} MiB, {:.1} s; memory used after {} B",
        hwm >> 20,
        stats["memory"]["peak"].as_u64().unwrap() >> 20,
        started.elapsed().as_secs_f64(),
        stats["memory"]["used"]
    );
    assert_eq!(by_status.values().sum::<i32>(), 50);
    assert!(
        by_status.keys().all(|k| k == "200" || k == "503"),
        "{by_status:?}"
    );
    assert_eq!(stats["memory"]["used"], 0);
    let budget = stats["memory"]["budget"].as_u64().unwrap();
    assert!(hwm <= budget + proc::OVERHEAD, "peak {} MiB", hwm >> 20);
}

/// The wrong-key bodies of the issue: none may take the node past 128 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run with --release --ignored (docs/RELIABILITY.md)"]
async fn wrong_key_bodies_stay_under_128_mib() {
    let node = Node::start(&[]).await;
    let zeros = |n: usize| {
        let mut b = b"{\"ops\":[[".to_vec();
        b.extend(std::iter::repeat_n(b"0,".as_slice(), n / 2).flatten());
        b.extend_from_slice(b"0]],\"k\":\"wrong\"}");
        b
    };
    let plain = zeros(60 << 20);
    let (status, _) = request(node.addr, "POST", "/tunnel/batch", &plain)
        .await
        .unwrap();
    assert_eq!(status, 404);
    let after_plain = node.rss().1;
    let gz = seqtun_wire::body::gzip(&plain);
    drop(plain);
    let (status, _) = request(node.addr, "POST", "/tunnel/batch", &gz)
        .await
        .unwrap();
    assert_eq!(status, 404);
    let after_gzip = node.rss().1;
    // 32 MiB as 1-byte chunks of chunked transfer encoding.
    let body = zeros(32 << 20);
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    s.write_all(b"POST /tunnel/batch HTTP/1.1\r\nHost: n\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
    let mut wire = Vec::with_capacity(body.len() * 6 + 5);
    for b in &body {
        wire.extend_from_slice(b"1\r\n");
        wire.push(*b);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&wire).await.unwrap();
    drop(wire);
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    assert!(out.starts_with(b"HTTP/1.1 404"));
    let after_chunks = node.rss().1;
    let eight = std::sync::Arc::new(zeros(8 << 20));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let b = std::sync::Arc::clone(&eight);
            let addr = node.addr;
            tokio::spawn(async move { request(addr, "POST", "/tunnel/batch", &b).await.unwrap().0 })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 404);
    }
    let (_, hwm) = node.rss();
    println!(
        "figure: wrong-key bodies: node peak RSS after 60 MiB plain {} MiB, after its gzip ({} KiB on the wire) {} MiB, after 32 MiB in 1-byte chunks {} MiB, after 8 x 8 MiB in parallel {} MiB",
        after_plain >> 20,
        gz.len() >> 10,
        after_gzip >> 20,
        after_chunks >> 20,
        hwm >> 20
    );
    assert!(hwm < 128 << 20, "peak {} MiB", hwm >> 20);
}
