//! What sits behind the relay in tests: upstream TCP servers the node connects to (echo, a
//! recording sink), and a recording fake node for checking exactly what the relay forwards.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use seqtun_relay::{RelayConfig, RelayHandle};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::common::{NODE_KEY, RELAY_KEY};

// Echo and the accept loop are the ones every reference crate's tests use.
pub use seqtun_testkit::origin::{echo, server};

/// Every byte any connection to a sink sent, in arrival order.
#[derive(Clone, Default)]
pub struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    accepted: Arc<Mutex<usize>>,
    changed: Arc<Notify>,
}

impl Sink {
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }

    /// Waits (up to 10 s) until the sink holds exactly `want`; panics with what it holds.
    pub async fn wait_for(&self, want: &[u8]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if self.bytes() == want {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "sink holds {:?}, wanted {:?}",
                    String::from_utf8_lossy(&self.bytes()),
                    String::from_utf8_lossy(want)
                );
            }
        }
    }
}

/// A server that records what it receives and never answers.
pub async fn sink() -> (SocketAddr, Sink) {
    let sink = Sink::default();
    let s2 = sink.clone();
    let addr = server(move |mut s| {
        let sink = s2.clone();
        async move {
            *sink.accepted.lock().unwrap() += 1;
            sink.changed.notify_waiters();
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
                sink.changed.notify_waiters();
            }
        }
    })
    .await;
    (addr, sink)
}

/// A fake node that records each request's path and body and answers with a fixed status
/// and body, for checking exactly what the relay forwards.
#[derive(Clone)]
pub struct FakeNode {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeNode {
    /// A "node" at `addr` that nothing serves (for unreachable-node tests).
    pub fn at(addr: SocketAddr) -> Self {
        Self {
            addr,
            seen: Arc::default(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `(path, body)` of every request so far.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

pub async fn fake_node(status: u16, answer: &'static str) -> FakeNode {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = FakeNode {
        addr,
        seen: Arc::clone(&seen),
    };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let body = String::from_utf8(body.to_vec()).unwrap();
                        seen.lock().unwrap().push((path, body));
                        let mut resp =
                            Response::new(Full::new(Bytes::from_static(answer.as_bytes())));
                        *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    fake
}

/// A relay with default settings in front of `fake`, adjusted by `tweak`.
pub async fn relay_to(fake: &FakeNode, tweak: impl FnOnce(&mut RelayConfig)) -> RelayHandle {
    let mut cfg = RelayConfig::new(fake.url(), NODE_KEY, RELAY_KEY);
    tweak(&mut cfg);
    seqtun_relay::spawn(cfg).await.unwrap()
}
