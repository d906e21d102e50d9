//! Fixtures for black-box node tests: a node on loopback, an HTTP client that speaks to it, and
//! upstream servers (echo, recording sink, byte source, scripted).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use seqtun_node::{NodeConfig, NodeHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Notify;

// Echo, the accept loop and a closed port are the ones every reference crate's tests use.
pub use seqtun_testkit::origin::{closed_port, echo, server};

pub const KEY: &str = "test-key";

pub struct TestNode {
    pub handle: NodeHandle,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// Starts a node on 127.0.0.1:0 with test-friendly limits, adjusted by `tweak`.
pub async fn node(tweak: impl FnOnce(&mut NodeConfig)) -> TestNode {
    let mut cfg = NodeConfig::new(KEY);
    cfg.params.longpoll_deadline = Duration::from_millis(500);
    cfg.stats_on_main_port = true;
    tweak(&mut cfg);
    let handle = seqtun_node::spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = Client::builder(TokioExecutor::new()).build_http();
    TestNode { handle, http }
}

impl TestNode {
    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> (StatusCode, HeaderMap, Bytes) {
        self.request("POST", path, body.into()).await
    }

    /// A POST whose transport may fail; only the status is kept.
    pub async fn try_post(&self, path: &str, body: Vec<u8>) -> Result<StatusCode, String> {
        let req = Request::post(format!("{}{path}", self.handle.url()))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        Ok(resp.status())
    }

    /// Any method on any path, with the answer's headers.
    pub async fn call(&self, method: &str, path: &str) -> (StatusCode, HeaderMap, Bytes) {
        self.request(method, path, Bytes::new()).await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.handle.url()))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap();
        let resp = self.http.request(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Bytes) {
        let req = Request::get(format!("{}{path}", self.handle.url()))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = self.http.request(req).await.unwrap();
        let status = resp.status();
        (status, resp.into_body().collect().await.unwrap().to_bytes())
    }

    /// Posts `{"k":KEY,"ops":ops}` and returns `r`, checking HTTP 200 and `len(r) == len(ops)`.
    pub async fn batch(&self, ops: Value) -> Vec<Value> {
        let n = ops.as_array().map_or(0, Vec::len);
        let body = json!({"k": KEY, "ops": ops}).to_string();
        let (status, _, body) = self.post("/tunnel/batch", body).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let r = v["r"].as_array().unwrap().clone();
        assert_eq!(r.len(), n, "len(r) != len(ops): {v}");
        r
    }

    /// One op, one reply.
    pub async fn op(&self, op: Value) -> Value {
        self.batch(json!([op])).await.remove(0)
    }

    /// Opens a session to `addr` and returns its sid.
    pub async fn connect(&self, addr: SocketAddr) -> String {
        let r = self
            .op(json!({"op":"connect","host":"127.0.0.1","port":addr.port()}))
            .await;
        r["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("connect failed: {r}"))
            .to_string()
    }

    pub fn sessions(&self) -> usize {
        self.handle.state.table.len()
    }
}

/// The `caps` seqtun's node puts on a successful connect reply: whatever bits its rules set
/// (§7.2), so a test that means "caps offered" does not pin the other bits.
pub fn seqtun_caps() -> Value {
    json!(seqtun_wire::rules::Rules::seqtun().caps)
}

/// True when a reply's `caps` has `bit` set.
pub fn has_cap(reply: &Value, bit: u32) -> bool {
    reply["caps"]
        .as_u64()
        .is_some_and(|c| c & u64::from(bit) != 0)
}

pub fn b64(bytes: &[u8]) -> String {
    seqtun_wire::b64::encode(bytes)
}

/// The decoded `d` of a reply (empty when absent).
pub fn d(reply: &Value) -> Vec<u8> {
    reply["d"]
        .as_str()
        .map(|s| seqtun_wire::b64::decode(s).unwrap())
        .unwrap_or_default()
}

/// What one accepted connection sent, and whether it saw the close.
type Conn = Arc<Mutex<(Vec<u8>, bool)>>;

/// Records what each accepted connection sends, and whether it saw the close.
#[derive(Clone, Default)]
pub struct Recorder {
    conns: Arc<Mutex<Vec<Conn>>>,
    changed: Arc<Notify>,
}

impl Recorder {
    pub fn accepted(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Bytes received so far on connection `i`.
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        self.conns.lock().unwrap()[i].lock().unwrap().0.clone()
    }

    pub fn closed(&self, i: usize) -> bool {
        self.conns.lock().unwrap()[i].lock().unwrap().1
    }

    /// Waits (up to 10 s) until `pred` holds.
    pub async fn wait(&self, what: &str, pred: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if pred(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }
}

/// A sink that records bytes and never answers.
pub async fn sink() -> (SocketAddr, Recorder) {
    let rec = Recorder::default();
    let r2 = rec.clone();
    let addr = server(move |mut s| {
        let rec = r2.clone();
        async move {
            let slot = Arc::new(Mutex::new((Vec::new(), false)));
            rec.conns.lock().unwrap().push(Arc::clone(&slot));
            rec.changed.notify_waiters();
            let mut buf = vec![0u8; 65536];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => slot.lock().unwrap().0.extend_from_slice(&buf[..n]),
                }
                rec.changed.notify_waiters();
            }
            slot.lock().unwrap().1 = true;
            rec.changed.notify_waiters();
        }
    })
    .await;
    (addr, rec)
}

/// Sends `bytes` on accept, then closes.
pub async fn source(bytes: Vec<u8>) -> SocketAddr {
    let bytes = Arc::new(bytes);
    server(move |mut s| {
        let bytes = Arc::clone(&bytes);
        async move {
            let _ = s.write_all(&bytes).await;
            let _ = s.shutdown().await;
            // Keep reading so the close is a clean FIN, not a reset.
            let mut sink = vec![0u8; 1024];
            while let Ok(n) = s.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
    })
    .await
}

/// Polls `sid` with un-seq'd polls until `n` bytes arrived or eof; returns the bytes.
pub async fn read_n(node: &TestNode, sid: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < n {
        let r = node.op(json!({"op":"data","sid":sid})).await;
        out.extend(d(&r));
        if r["eof"] == true {
            break;
        }
    }
    out
}

/// Bounds a future by a generous real-time limit, for liveness checks whose failure mode is
/// "waits for a deadline that is configured to be minutes long".
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

/// One request on a fresh connection (`Connection: close`), read to the end: the status code
/// and the body. Raw, so no client pool can hand the request to a connection the node shed.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| out[i + 4..].to_vec())
        .unwrap_or_default();
    (status, body)
}

/// An origin that writes a counting pattern (`u32` little-endian 0, 1, 2, ...) as fast as it is
/// read, forever: a fast download whose bytes can be checked for loss or reordering.
pub async fn endless() -> SocketAddr {
    server(|mut s| async move {
        let mut n: u32 = 0;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            for c in buf.chunks_mut(4) {
                c.copy_from_slice(&n.to_le_bytes());
                n = n.wrapping_add(1);
            }
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// True when `bytes` continue the counting pattern of [`endless`] from word `from`.
pub fn counts_from(bytes: &[u8], from: u32) -> bool {
    bytes.len().is_multiple_of(4)
        && bytes
            .chunks(4)
            .enumerate()
            .all(|(i, c)| c == from.wrapping_add(i as u32).to_le_bytes())
}
