//! (c) The slowloris of the issue: stalled connections past the descriptor limit, while a
//! prober checks /health and a batch on fresh connections. The same probes run first without
//! the attack, so the delay the attack adds is measured, not the machine's own latency.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::proc::Node;
use crate::{KEY, echo, request};

/// How long the probes run without and then with the attack.
const QUIET: Duration = Duration::from_secs(5);
const ATTACK: Duration = Duration::from_secs(20);
/// Stalled connections the attacker keeps open (three times the descriptor limit).
const HELD: usize = 3000;

#[derive(Default)]
struct Probes {
    health: Vec<Duration>,
    batch: Vec<Duration>,
    failed: Vec<String>,
}

impl Probes {
    fn summary(&mut self) -> String {
        self.health.sort();
        self.batch.sort();
        let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p) as usize];
        let line = |v: &[Duration]| {
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                pct(v, 0.5).as_secs_f64() * 1e3,
                pct(v, 0.99).as_secs_f64() * 1e3,
                v.last().unwrap().as_secs_f64() * 1e3
            )
        };
        format!(
            "{} health checks ({}), {} batches ({}), {} failed",
            self.health.len(),
            line(&self.health),
            self.batch.len(),
            line(&self.batch),
            self.failed.len()
        )
    }
}

/// /health and a batch (connect_data to an echo, answered when the echo replies) on fresh
/// connections every 100 ms for `window`.
async fn probe(addr: SocketAddr, echo: SocketAddr, window: Duration) -> Probes {
    let body = json!({"k": KEY, "ops": [{"op":"connect_data","host":"127.0.0.1","port":echo.port(),"d":"aGk="}]}).to_string();
    let mut p = Probes::default();
    let until = Instant::now() + window;
    while Instant::now() < until {
        let t = Instant::now();
        match request(addr, "GET", "/health", b"").await {
            Ok((200, b)) if b == b"ok" => p.health.push(t.elapsed()),
            other => p.failed.push(format!("health: {other:?}")),
        }
        let t = Instant::now();
        match request(addr, "POST", "/tunnel/batch", body.as_bytes()).await {
            Ok((200, b)) if String::from_utf8_lossy(&b).contains("\"sid\"") => {
                p.batch.push(t.elapsed())
            }
            other => p.failed.push(format!("batch: {other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p
}

/// Opens stalled connections as fast as the kernel takes them (paced at 50 per 5 ms), a third
/// each a partial head, a partial body and an idle keep-alive, keeping the newest [`HELD`].
/// Returns how many it opened.
async fn attack(addr: SocketAddr, stop: Arc<AtomicBool>) -> usize {
    let mut held = VecDeque::new();
    let mut opened = 0usize;
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            let stall: &[u8] = match opened % 3 {
                0 => b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\n",
                1 => b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\n\r\n{",
                _ => b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
            };
            let _ = s.write_all(stall).await;
            held.push_back(s);
            if held.len() > HELD {
                held.pop_front();
            }
        }
        opened += 1;
        if opened.is_multiple_of(50) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    opened
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run with --release --ignored (docs/RELIABILITY.md)"]
async fn c_slowloris_past_the_descriptor_limit() {
    seqtun_runtime::conn::fd_limit::raise().unwrap();
    let node = Node::start_with_nofile(1024, &[]).await;
    let up = echo().await;
    let mut quiet = probe(node.addr, up, QUIET).await;
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = tokio::spawn(attack(node.addr, Arc::clone(&stop)));
    let mut loud = probe(node.addr, up, ATTACK).await;
    stop.store(true, Ordering::Relaxed);
    let opened = attacker.await.unwrap();
    let stats = node.stats().await;
    println!(
        "figure: (c) slowloris: node fd limit 1024, connection cap {}; without the attack: {}; \
         with {opened} stalled connections opened over {} s (the newest {HELD} held): {}; \
         shed {}, refused {}; 'accept failed' lines {}",
        stats["connections"]["max"],
        quiet.summary(),
        ATTACK.as_secs(),
        loud.summary(),
        stats["connections"]["shed"],
        stats["connections"]["refused"],
        node.stderr_text().matches("accept failed").count()
    );
    assert!(quiet.failed.is_empty(), "{:?}", quiet.failed);
    assert!(loud.failed.is_empty(), "{:?}", loud.failed);
    assert_eq!(stats["connections"]["refused"], 0);
    assert_eq!(node.stderr_text().matches("accept failed").count(), 0);
}
