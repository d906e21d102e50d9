//! Fixtures: an in-process node and client on loopback, origin servers, SOCKS5 and HTTP CONNECT
//! consumers, a scripted node that answers batches as a test says, and a stand-in Apps Script
//! relay.

mod scripted;
mod standin;

pub use scripted::*;
pub use standin::*;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientHandle, RelaySpec};
use seqtun_node::{NodeConfig, NodeHandle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

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

/// Serves every accepted connection with `handler`.
pub async fn server<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// Echoes everything back, then closes when the peer does.
pub async fn echo() -> SocketAddr {
    server(|mut s| async move {
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .await
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

/// A port nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// SOCKS5 CONNECT to `host:port` through `proxy`; returns the reply code and the stream.
pub async fn socks(proxy: SocketAddr, host: &str, port: u16) -> (u8, TcpStream) {
    socks_auth(proxy, host, port, None).await
}

pub async fn socks_auth(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> (u8, TcpStream) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let method = if auth.is_some() { 2 } else { 0 };
    s.write_all(&[5, 1, method]).await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, method], "method selection");
    if let Some((u, p)) = auth {
        let mut msg = vec![1, u.len() as u8];
        msg.extend(u.as_bytes());
        msg.push(p.len() as u8);
        msg.extend(p.as_bytes());
        s.write_all(&msg).await.unwrap();
        let mut st = [0u8; 2];
        s.read_exact(&mut st).await.unwrap();
        assert_eq!(st, [1, 0], "auth accepted");
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            req.push(1);
            req.extend(a.octets());
        }
        Ok(std::net::IpAddr::V6(a)) => {
            req.push(4);
            req.extend(a.octets());
        }
        Err(_) => {
            req.push(3);
            req.push(host.len() as u8);
            req.extend(host.as_bytes());
        }
    }
    req.extend(port.to_be_bytes());
    s.write_all(&req).await.unwrap();
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).await.unwrap();
    (rep[1], s)
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

/// Deterministic bytes, different per stream.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
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
