//! Fixtures: an in-process node and client on loopback, origin servers, SOCKS5 and HTTP CONNECT
//! consumers, a scripted node that answers batches as a test says, and a stand-in Apps Script
//! relay.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use seqtun_client::{ClientConfig, ClientHandle, RelaySpec};
use seqtun_node::{NodeConfig, NodeHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

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

/// Bounds a future by a generous real-time limit (liveness, not speed).
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

// ---------------------------------------------------------------------------------------------
// A scripted node: every HTTP request is handed to the test, which answers it as it likes.

/// An answer to one request.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn json(v: Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }
}

/// One request the scripted server received.
pub struct Asked {
    pub method: String,
    pub path: String,
    pub headers: hyper::HeaderMap,
    pub body: Value,
    respond: oneshot::Sender<Raw>,
}

impl Asked {
    pub fn ops(&self) -> Vec<Value> {
        self.body["ops"].as_array().cloned().unwrap_or_default()
    }

    pub fn reply(self, r: Vec<Value>) {
        let _ = self.respond.send(Raw::json(json!({ "r": r })));
    }

    pub fn raw(self, raw: Raw) {
        let _ = self.respond.send(raw);
    }
}

pub struct Scripted {
    pub addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Asked>,
}

impl Scripted {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().to_string();
                            let headers = req.headers().clone();
                            let bytes = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            let (respond, answer) = oneshot::channel();
                            let _ = tx.send(Asked {
                                method,
                                path,
                                headers,
                                body,
                                respond,
                            });
                            let raw = answer.await.unwrap_or(Raw {
                                status: 500,
                                headers: vec![],
                                body: vec![],
                            });
                            let mut resp = Response::builder().status(raw.status);
                            for (k, v) in raw.headers {
                                resp = resp.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(
                                resp.body(Full::new(Bytes::from(raw.body))).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, rx }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request (fails the test after 10 s).
    pub async fn next(&mut self) -> Asked {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("the client sent no request within 10 s")
            .expect("scripted server stopped")
    }

    /// The next request, if one comes within `wait`.
    pub async fn maybe_next(&mut self, wait: Duration) -> Option<Asked> {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

/// A connect reply with optional caps.
pub fn connected(sid: &str, caps: Option<u32>) -> Value {
    let mut v = json!({"sid": sid, "eof": false});
    if let Some(c) = caps {
        v["caps"] = json!(c);
    }
    v
}

/// A data reply carrying `bytes`, with an optional seq echo.
pub fn drained(sid: &str, bytes: &[u8], seq: Option<u64>) -> Value {
    let mut v = json!({"sid": sid, "eof": false});
    if !bytes.is_empty() {
        v["d"] = json!(seqtun_wire::b64::encode(bytes));
    }
    if let Some(s) = seq {
        v["seq"] = json!(s);
    }
    v
}

/// The decoded `d` of an op (empty when absent).
pub fn decode_d(op: &Value) -> Vec<u8> {
    op["d"]
        .as_str()
        .map(|d| seqtun_wire::b64::decode(d).unwrap())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// A stand-in Apps Script relay: outer dialect in, inner dialect to the node, the answer served
// once by a GET after a 302, gzip when asked for.

pub async fn apps_script_standin(node: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pending: Arc<Mutex<std::collections::HashMap<u64, Vec<u8>>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (pending, next, http) = (Arc::clone(&pending), Arc::clone(&next), http.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (pending, next, http) =
                        (Arc::clone(&pending), Arc::clone(&next), http.clone());
                    async move {
                        let path = req.uri().path().to_string();
                        let gzip_ok = req
                            .headers()
                            .get("accept-encoding")
                            .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
                        let resp = if req.method() == hyper::Method::POST
                            && path.starts_with("/macros/s/")
                            && path.ends_with("/exec")
                        {
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let outer: Value =
                                serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            if outer["k"] != RELAY_KEY || outer["t"] != "batch" {
                                decoy()
                            } else {
                                let inner = json!({"k": KEY, "ops": outer["ops"]}).to_string();
                                let fwd = Request::post(format!("http://{node}/tunnel/batch"))
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(inner)))
                                    .unwrap();
                                let answer = http.request(fwd).await.unwrap();
                                let status = answer.status();
                                let body = answer
                                    .into_body()
                                    .collect()
                                    .await
                                    .unwrap()
                                    .to_bytes()
                                    .to_vec();
                                let body = if status == StatusCode::OK {
                                    body
                                } else {
                                    json!({"e": format!("tunnel batch HTTP {}", status.as_u16())})
                                        .to_string()
                                        .into_bytes()
                                };
                                let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                pending.lock().unwrap().insert(id, body);
                                Response::builder()
                                    .status(302)
                                    .header("location", format!("http://{addr}/echo?id={id}"))
                                    .body(Full::new(Bytes::new()))
                                    .unwrap()
                            }
                        } else if req.method() == hyper::Method::GET && path == "/echo" {
                            let id: Option<u64> = req
                                .uri()
                                .query()
                                .and_then(|q| q.strip_prefix("id="))
                                .and_then(|n| n.parse().ok());
                            match id.and_then(|id| pending.lock().unwrap().remove(&id)) {
                                Some(body) if gzip_ok => Response::builder()
                                    .header("content-type", "application/json")
                                    .header("content-encoding", "gzip")
                                    .body(Full::new(Bytes::from(seqtun_wire::body::gzip(&body))))
                                    .unwrap(),
                                Some(body) => Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                                None => decoy(),
                            }
                        } else {
                            decoy()
                        };
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

pub const DECOY_PAGE: &str = "<!DOCTYPE html><html><head><title>Error</title></head><body><div>The script completed but did not return anything.</div></body></html>";

fn decoy() -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from_static(DECOY_PAGE.as_bytes())))
        .unwrap()
}
