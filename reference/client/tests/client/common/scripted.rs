//! A scripted node: every HTTP request is handed to the test, which answers it as it likes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

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
