//! The runner's own wiretap between the relay and the node.
//!
//! A matrix cell's wire verdict (did the client send `seq`, did the node echo it, was `caps`
//! offered) must come from what really crossed the wire, seen by code that is not the
//! reference's: the client and node would otherwise vouch for themselves. So the relay is
//! pointed at this forwarder, which passes every request body to the node verbatim, passes the
//! node's answer back verbatim, and keeps both as plain `serde_json::Value`s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Largest body the tap reads in either direction; the relay's own request cap is 50 MiB.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// Most exchanges kept per tap; a matrix cell makes a few dozen. Later ones are counted only.
pub const MAX_EXCHANGES: usize = 4096;

/// One POST that crossed the tap. A body that is not JSON is kept as `None`.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub path: String,
    pub request: Option<Value>,
    /// The node's HTTP status; `None` when the node could not be reached.
    pub status: Option<u16>,
    pub reply: Option<Value>,
}

/// The first `e` the node answered, in a batch entry or a whole reply, in wire order.
pub fn first_error(exchanges: &[Exchange]) -> Option<String> {
    exchanges.iter().find_map(|x| {
        let reply = x.reply.as_ref()?;
        let entries = reply
            .get("r")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        entries
            .chain([reply])
            .find_map(|e| e.get("e").and_then(Value::as_str))
            .map(str::to_owned)
    })
}

#[derive(Default)]
struct Log {
    exchanges: Vec<Exchange>,
    dropped: usize,
}

/// A running tap; dropping it stops it.
pub struct Tap {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<()>,
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Upstream {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
    log: Arc<Mutex<Log>>,
}

impl Tap {
    /// Listens on 127.0.0.1:0 and forwards to `node_url` (`http://host:port`, no path).
    pub async fn start(node_url: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let up = Arc::new(Upstream {
            base: node_url.trim_end_matches('/').to_string(),
            http: Client::builder(TokioExecutor::new()).build_http(),
            log: Arc::clone(&log),
        });
        let task = tokio::spawn(async move {
            // Connection tasks live in this set, so aborting the accept task stops them too.
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let up = Arc::clone(&up);
                conns.spawn(async move {
                    let service = service_fn(move |req| forward(Arc::clone(&up), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, log, task })
    }

    /// What the relay should use as its node URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The exchanges so far, in the order their replies came back.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log
            .lock()
            .map(|l| l.exchanges.clone())
            .unwrap_or_default()
    }

    /// Exchanges forwarded but not kept (beyond [`MAX_EXCHANGES`]).
    pub fn dropped(&self) -> usize {
        self.log.lock().map(|l| l.dropped).unwrap_or_default()
    }
}

fn answer(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

async fn forward(
    up: Arc<Upstream>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let method = req.method().clone();
    let content_type = req.headers().get(CONTENT_TYPE).cloned();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let text = format!("tap: cannot read the request body: {e}");
            return Ok(answer(StatusCode::BAD_GATEWAY, "text/plain", text.into()));
        }
    };
    let mut out = Request::builder()
        .method(method.clone())
        .uri(format!("{}{path}", up.base));
    if let Some(ct) = content_type {
        out = out.header(CONTENT_TYPE, ct);
    }
    let result = match out.body(Full::new(body.clone())) {
        Ok(r) => relay_to_node(&up, r).await,
        Err(e) => Err(e.to_string()),
    };
    let (status, reply_type, reply) = match &result {
        Ok((s, ct, b)) => (Some(*s), ct.clone(), b.clone()),
        Err(_) => (None, String::new(), Bytes::new()),
    };
    if method == hyper::Method::POST
        && let Ok(mut log) = up.log.lock()
    {
        if log.exchanges.len() < MAX_EXCHANGES {
            log.exchanges.push(Exchange {
                path,
                request: serde_json::from_slice(&body).ok(),
                status: status.map(|s| s.as_u16()),
                reply: serde_json::from_slice(&reply).ok(),
            });
        } else {
            log.dropped += 1;
        }
    }
    Ok(match result {
        Ok(_) => answer(status.unwrap_or(StatusCode::OK), &reply_type, reply),
        Err(e) => answer(
            StatusCode::BAD_GATEWAY,
            "text/plain",
            format!("tap: the node did not answer: {e}").into(),
        ),
    })
}

async fn relay_to_node(
    up: &Upstream,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, String, Bytes), String> {
    let resp = up.http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = Limited::new(resp.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, ct, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answered(reply: Value) -> Exchange {
        Exchange {
            path: "/tunnel/batch".into(),
            request: None,
            status: Some(200),
            reply: Some(reply),
        }
    }

    #[test]
    fn the_first_error_is_found_in_entries_and_whole_replies() {
        let ok = answered(json!({"r":[{"sid":"a","eof":false}]}));
        let entry = answered(json!({"r":[{"sid":"a"},{"e":"seq 2 timed out waiting for 1"}]}));
        let whole = answered(json!({"e":"unauthorized"}));
        assert_eq!(first_error(std::slice::from_ref(&ok)), None);
        assert_eq!(
            first_error(&[ok.clone(), entry, whole.clone()]).as_deref(),
            Some("seq 2 timed out waiting for 1")
        );
        assert_eq!(first_error(&[ok, whole]).as_deref(), Some("unauthorized"));
    }
}
