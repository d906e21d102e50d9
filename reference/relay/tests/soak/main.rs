//! Soak and memory tests of the release binaries as separate processes (docs/RELIABILITY.md):
//! `cargo build --release -p seqtun-node -p seqtun-client && cargo test --release -p
//! seqtun-relay --test soak -- --ignored --nocapture --test-threads 1`. `SEQTUN_SOAK_SECS`
//! sets the chain soak's length (default 120 s). Loopback only; bounded in time and count.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const NODE_KEY: &str = "soak-node";
const RELAY_KEY: &str = "soak-relay";
/// The node's default memory budget (512 MiB) plus the 96 MiB overhead `tests/load` allows.
const NODE_RSS_BOUND_MIB: u64 = 512 + 96;
/// What the client may grow by from its working set under load (sampled once the 20 transfers
/// have run for [`WARM`]) to the end: a leak of what finished transfers moved (gigabytes over a
/// soak) would not fit. Measured from idle instead, the bound caught only the working set: the
/// 30-minute run grew 7 -> 178 MiB, 20 transfers' reply bodies and their decoding in flight.
const CLIENT_GROWTH_BOUND_MIB: u64 = 128;
/// When the working set is sampled: long enough for every transfer to be under way.
const WARM: Duration = Duration::from_secs(60);

/// A binary built next to this test (same profile).
fn bin(name: &str) -> PathBuf {
    let relay = PathBuf::from(env!("CARGO_BIN_EXE_seqtun-relay"));
    let p = relay.with_file_name(name);
    assert!(
        p.exists(),
        "{} missing: cargo build --release -p seqtun-node -p seqtun-client first",
        p.display()
    );
    p
}

struct Proc {
    child: Child,
    addrs: Vec<(String, SocketAddr)>,
}

impl Proc {
    /// Starts `path` and waits for `want` lines `<role> listening on <addr>`.
    fn start(path: PathBuf, args: &[String], want: usize) -> Self {
        let mut child = Command::new(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let addrs = seqtun_testkit::process::listeners(&mut out, want);
        std::thread::spawn(move || for _ in out.lines() {});
        Self { child, addrs }
    }

    fn addr(&self, role: &str) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| r == role).unwrap().1
    }

    fn rss_mib(&self) -> u64 {
        rss_mib(self.pid())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).map_or(0, |d| d.count())
    }
}

/// VmRSS of process `pid`, in MiB (0 once it is gone).
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        >> 10
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes `len` of the stream seeded by `seed`.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// An origin: reads `seed: u64, len: u32` and answers that content, then closes.
async fn origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut req = [0u8; 12];
                if s.read_exact(&mut req).await.is_err() {
                    return;
                }
                let seed = u64::from_le_bytes(req[..8].try_into().unwrap());
                let len = u32::from_le_bytes(req[8..].try_into().unwrap()) as usize;
                let _ = s.write_all(&content(seed, len)).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[derive(Default)]
struct Tally {
    completed: AtomicU64,
    failed: AtomicU64,
    wrong: AtomicU64,
    bytes: AtomicU64,
}

/// What the node's `/metrics` says it holds: bytes charged to the budget by use, and live
/// sessions. RSS above the charged bytes is the allocator's or the node's own, uncharged.
async fn node_memory(node: SocketAddr) -> String {
    let mut s = TcpStream::connect(node).await.unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nhost: {node}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body).await;
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let sum = |prefix: &str| -> f64 {
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(value)
            .sum()
    };
    let mib = |prefix: &str| sum(prefix) / f64::from(1 << 20);
    let used = "seqtun_node_memory_used_bytes";
    format!(
        "budget in use {:.0} MiB (buffers {:.0}, bodies {:.0}, replies {:.0}, held {:.0}), {} sessions live",
        mib(used),
        mib(&format!("{used}{{use=\"buffers\"}}")),
        mib(&format!("{used}{{use=\"bodies\"}}")),
        mib(&format!("{used}{{use=\"replies\"}}")),
        mib(&format!("{used}{{use=\"held\"}}")),
        sum("seqtun_node_sessions_live"),
    )
}

/// One download through SOCKS5; counts it as completed, failed cleanly (an error or a short
/// but correct prefix) or wrong (any byte that differs).
async fn download(socks: SocketAddr, to: SocketAddr, seed: u64, len: usize, tally: &Tally) {
    let result = async {
        let mut s = TcpStream::connect(socks).await?;
        s.write_all(&[5, 1, 0]).await?;
        let mut r = [0u8; 2];
        s.read_exact(&mut r).await?;
        let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
        req.extend_from_slice(&to.port().to_be_bytes());
        s.write_all(&req).await?;
        let mut rep = [0u8; 10];
        s.read_exact(&mut rep).await?;
        if rep[1] != 0 {
            return Err(std::io::Error::other("socks refused"));
        }
        let mut ask = seed.to_le_bytes().to_vec();
        ask.extend_from_slice(&(len as u32).to_le_bytes());
        s.write_all(&ask).await?;
        let mut got = Vec::with_capacity(len);
        tokio::time::timeout(Duration::from_secs(300), s.read_to_end(&mut got))
            .await
            .map_err(|_| std::io::Error::other("timeout"))??;
        Ok::<_, std::io::Error>(got)
    }
    .await;
    let want = content(seed, len);
    match result {
        Ok(got) if got.len() == len && Sha256::digest(&got) == Sha256::digest(&want) => {
            tally.completed.fetch_add(1, Ordering::Relaxed);
            tally.bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        Ok(got) if got.len() <= len && want.starts_with(&got) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            tally.wrong.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// (d) The chain soak: origin -> node -> relay (seeded mixed faults) -> client -> 20 parallel
/// downloads, each checked by SHA-256. `strip_unknown` is not in the mix: the first reply
/// without `seq` switches the client to the legacy loop for good (PROTOCOL.md §7.8), and there
/// a duplicated call's second execution drains bytes into a reply nobody reads, a gap the
/// un-seq'd protocol cannot detect (a 300 s run with it at 1% delivered one such download).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --release --ignored (docs/RELIABILITY.md)"]
async fn d_chain_soak_with_faults() {
    let secs: u64 = std::env::var("SEQTUN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let s = |v: &str| v.to_string();
    let node = Proc::start(
        bin("seqtun-node"),
        &[
            s("--key"),
            s(NODE_KEY),
            s("--listen"),
            s("127.0.0.1:0"),
            s("--stats-secs"),
            s("0"),
            // The figure says what the budget holds next to RSS (node_memory).
            s("--metrics-on-main-port"),
        ],
        1,
    );
    let relay_args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--node",
        &format!("http://{}", node.addr("")),
        "--node-key",
        NODE_KEY,
        "--key",
        RELAY_KEY,
        "--latency-ms",
        "150",
        "--jitter-ms",
        "150",
        "--seed",
        "16",
        "--drop-request-rate",
        "0.01",
        "--drop-reply-rate",
        "0.01",
        "--duplicate-rate",
        "0.02",
        "--hold-back-rate",
        "0.02",
        "--decoy-rate",
        "0.005",
        "--server-error-rate",
        "0.005",
        "--short-reply-rate",
        "0.005",
        "--extra-entry-rate",
        "0.002",
        "--swap-entries-rate",
        "0.002",
        // One deployment's daily UrlFetch quota (20,000 calls) lasts 10 to 15 minutes of 20
        // parallel transfers; after it every call is the quota's decoy page and the soak
        // measures nothing. Quota exhaustion has its own tests (tests/relay).
        "--calls-per-day",
        "1000000000",
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    let relay = Proc::start(
        PathBuf::from(env!("CARGO_BIN_EXE_seqtun-relay")),
        &relay_args,
        1,
    );
    let client = Proc::start(
        bin("seqtun-client"),
        &[
            s("--relay"),
            format!("http://{}/macros/s/soak/exec", relay.addr("")),
            s("--key"),
            s(RELAY_KEY),
            s("--socks"),
            s("127.0.0.1:0"),
            s("--quiet"),
        ],
        1,
    );
    let socks = client.addr("socks5");
    let to = origin().await;
    let tally = Arc::new(Tally::default());
    download(socks, to, 1, 64 << 10, &tally).await;
    let start_rss = (node.rss_mib(), client.rss_mib());
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let workers: Vec<_> = (0..20u64)
        .map(|w| {
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(w);
                let mut n = 0u64;
                while Instant::now() < until {
                    let len = (64 << 10) + (rng.next_u32() as usize % (8 << 20));
                    download(socks, to, w << 32 | n, len, &tally).await;
                    n += 1;
                }
            })
        })
        .collect();
    // Node RSS and budget every 5 minutes: growth that tracks the work done, or a plateau.
    let (pid, addr) = (node.pid(), node.addr(""));
    let sampler = tokio::spawn(async move {
        let mut seen = Vec::new();
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(300).min(until - Instant::now())).await;
            let t = started.elapsed().as_secs();
            seen.push(format!(
                "{t} s: {} MiB, {}",
                rss_mib(pid),
                node_memory(addr).await
            ));
        }
        seen
    });
    tokio::time::sleep(WARM.min(Duration::from_secs(secs / 4))).await;
    let warm_rss = (node.rss_mib(), client.rss_mib());
    let warm_mem = node_memory(node.addr("")).await;
    for w in workers {
        w.await.unwrap();
    }
    let ran = started.elapsed();
    for line in sampler.await.unwrap() {
        println!("figure: node RSS at {line}");
    }
    let end_rss = (node.rss_mib(), client.rss_mib());
    let end_mem = node_memory(node.addr("")).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let after = (node.rss_mib(), node.fds());
    let after_mem = node_memory(node.addr("")).await;
    println!("figure: node at warm: {warm_mem}; at the end: {end_mem}; 20 s later: {after_mem}");
    let (c, f, w) = (
        tally.completed.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
    );
    println!(
        "figure: (d) chain soak {:.0} s, 20 parallel downloads of 64 KiB-8 MiB through faults: {c} completed ({} MiB), {f} failed cleanly, {w} wrong; node RSS {} -> {} -> {} MiB, client RSS {} -> {} -> {} MiB (idle, warm, end); 20 s after the last transfer: node RSS {} MiB, {} descriptors",
        ran.as_secs_f64(),
        tally.bytes.load(Ordering::Relaxed) >> 20,
        start_rss.0,
        warm_rss.0,
        end_rss.0,
        start_rss.1,
        warm_rss.1,
        end_rss.1,
        after.0,
        after.1,
    );
    assert_eq!(w, 0, "wrong bytes delivered");
    assert!(c > 0);
    assert!(
        end_rss.0 <= NODE_RSS_BOUND_MIB,
        "node RSS {} MiB past the default budget plus overhead",
        end_rss.0
    );
    assert!(
        end_rss.1 <= warm_rss.1 + CLIENT_GROWTH_BOUND_MIB,
        "client RSS grew from {} MiB under load to {} MiB",
        warm_rss.1,
        end_rss.1
    );
    drop((client, relay));
}

/// The relay's part of the wrong-key test: 4 x 49 MiB bodies without the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "memory test: run with --release --ignored (docs/RELIABILITY.md)"]
async fn relay_wrong_key_bodies() {
    let s = |v: &str| v.to_string();
    let relay = Proc::start(
        PathBuf::from(env!("CARGO_BIN_EXE_seqtun-relay")),
        &[
            s("--listen"),
            s("127.0.0.1:0"),
            s("--node"),
            s("http://127.0.0.1:9"),
            s("--node-key"),
            s("n"),
            s("--key"),
            s("k"),
        ],
        1,
    );
    let addr = relay.addr("");
    let mut body = b"{\"ops\":[".to_vec();
    body.extend(std::iter::repeat_n(b"0,".as_slice(), 49 << 19).flatten());
    body.extend_from_slice(b"0],\"k\":\"wrong\"}");
    let body = Arc::new(body);
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let body = Arc::clone(&body);
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let head = format!(
                    "POST /macros/s/dep{i}/exec HTTP/1.1\r\nHost: r\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                s.write_all(head.as_bytes()).await.unwrap();
                s.write_all(&body).await.unwrap();
                let mut out = Vec::new();
                s.read_to_end(&mut out).await.unwrap();
                String::from_utf8_lossy(&out).contains("did not return anything")
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap(), "the decoy page");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", relay.child.id())).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        >> 10;
    println!(
        "figure: relay, 4 x {} MiB wrong-key bodies at once: peak RSS {hwm} MiB",
        body.len() >> 20
    );
    assert!(hwm < 4 * 49 + 96, "peak {hwm} MiB");
}
