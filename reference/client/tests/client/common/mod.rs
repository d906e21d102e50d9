//! Fixtures: an in-process node and client on loopback, origin servers, SOCKS5 and HTTP CONNECT
//! consumers, a scripted node that answers batches as a test says, and a stand-in Apps Script
//! relay.

mod scripted;
mod standin;

pub use scripted::*;
pub use standin::*;
// Origins, the SOCKS5 test client and the byte pattern are the ones every reference crate uses.
pub use seqtun_testkit::origin::{closed_port, echo, server};
pub use seqtun_testkit::pattern;
pub use seqtun_testkit::socks5::{connect as socks, connect_auth as socks_auth};

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientHandle, RelaySpec};
use seqtun_node::{NodeConfig, NodeHandle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const KEY: &str = "node-key";
pub const RELAY_KEY: &str = "relay-key";

/// A node on 127.0.0.1:0 with a short long-poll.
pub async fn node(legacy: bool) -> NodeHandle {
    let mut cfg = NodeConfig::new(KEY);
    cfg.legacy = legacy;
    cfg.params.longpoll_deadline = Duration::from_millis(500);
    seqtun_node::spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Client settings for tests: both listeners on port 0, fast coalescing, no stats line.
pub fn client_cfg(relay_url: &str, key: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(vec![RelaySpec::parse(relay_url).unwrap()], key);
    cfg.socks = Some("127.0.0.1:0".parse().unwrap());
    cfg.http = Some("127.0.0.1:0".parse().unwrap());
    cfg.params.coalesce_step = Duration::from_millis(2);
    cfg.params.coalesce_max = Duration::from_millis(10);
    cfg.stats_interval = None;
    cfg
}

pub async fn client(cfg: ClientConfig) -> ClientHandle {
    seqtun_client::spawn(cfg).await.unwrap()
}

/// Sends `greeting` on accept, then echoes.
pub async fn greeter(greeting: &'static [u8]) -> SocketAddr {
    server(move |mut s| async move {
        let _ = s.write_all(greeting).await;
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

/// HTTP CONNECT to `host:port` through `proxy`; returns the status and the stream.
pub async fn http_connect(proxy: SocketAddr, host: &str, port: u16) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    s.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, s)
}

/// Reads until `n` bytes arrived or the peer closed (bounded by 20 s).
pub async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    within("read_n", async {
        while out.len() < n {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
            }
        }
    })
    .await;
    out
}

/// Sends `len` bytes of [`pattern`] through a tunnelled connection to an echo origin while
/// reading them back; checks the SHA-256 of what came back against what was sent.
pub async fn echo_exact(s: TcpStream, seed: u64, len: usize) {
    use sha2::{Digest as _, Sha256};
    let data = pattern(seed, len);
    let want = Sha256::digest(&data);
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        for chunk in data.chunks(256 << 10) {
            wr.write_all(chunk).await.unwrap();
        }
        wr
    });
    let mut hash = Sha256::new();
    let mut got = 0;
    let mut buf = vec![0u8; 256 << 10];
    while got < len {
        let n = rd.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream ended after {got} of {len} bytes");
        hash.update(&buf[..n]);
        got += n;
    }
    assert_eq!(got, len);
    assert_eq!(hash.finalize(), want, "echoed bytes differ (seed {seed})");
    drop(writer.await.unwrap());
}

/// Bounds a future by a generous real-time limit (liveness, not speed).
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    bounded(what, Duration::from_secs(60), f).await
}

/// The liveness bound of a bulk transfer (tens of MiB through base64, JSON and, on the Apps
/// Script path, the relay's re-serialisation): minutes of CPU on a 2-core machine that other
/// builds are also using, so generous; speed is measured in bench/, never here.
pub const BULK_LIMIT: Duration = Duration::from_secs(240);

/// Bounds a future by `limit` (liveness, not speed).
pub async fn bounded<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}
