//! The node (or relay) a client under test talks to, played by the runner: it records every
//! op the client sends and holds each batch until the case says how to answer it, so a case can
//! reorder, delay, shorten, lengthen or mangle replies exactly.
//!
//! It accepts the inner dialect (`POST …/tunnel/batch`, `POST …/tunnel`) and the outer one
//! (`POST /macros/s/<id>/exec`, batch or single op), plain or gzip, and serves the one-time
//! redirect targets it hands out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::case::{ExtraAt, RespondSpec};
use crate::http::gzip;

/// How long a held batch waits for the case before the fake node gives up on it.
const HOLD_LIMIT: Duration = Duration::from_secs(300);

/// How long the fake node waits for a request body to arrive completely.
const BODY_READ_LIMIT: Duration = Duration::from_secs(60);

/// axum's text for a body over its limit, as deployed nodes answer it.
pub const TOO_LARGE: &str = "Failed to buffer the request body: length limit exceeded";

/// The Apps Script decoy text (PROTOCOL.md §1.5).
pub const DECOY: &str = "<!DOCTYPE html><html><head><title>Error</title></head><body>The script completed but did not return anything.</body></html>";

/// One op the client sent.
#[derive(Debug, Clone)]
pub struct OpRec {
    pub batch: usize,
    pub op: Value,
    pub claimed: Option<String>,
    pub reply: Option<Value>,
    pub arrived: Instant,
}

/// One request the client sent.
pub struct BatchRec {
    pub envelope: Value,
    pub ops: Vec<usize>,
    /// A single-op request: the reply is the bare reply object, not `{"r":[...]}`.
    pub single: bool,
    /// Entries `r` gets before and after the one per op (a hop rewriting `r`, §3.1).
    extra_start: Vec<Value>,
    extra_end: Vec<Value>,
    responder: Option<oneshot::Sender<Response<Full<Bytes>>>>,
}

#[derive(Default)]
pub struct Inner {
    pub ops: Vec<OpRec>,
    pub batches: Vec<BatchRec>,
    /// Bodies served once by `GET /redirect/<n>`.
    redirects: HashMap<u64, Response<Full<Bytes>>>,
    next_redirect: u64,
    /// Requests that were not a batch or single op (kept for error messages).
    pub junk: Vec<String>,
    /// Refuse bodies over this many bytes, as a deployed node does (`body_limit`).
    pub body_limit: Option<usize>,
    /// The size of every request body received, refused ones included.
    pub bodies: Vec<usize>,
    /// Requests refused by `body_limit`.
    pub refused: usize,
}

pub struct FakeNode {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<Inner>>,
    pub changed: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeNode {
    /// A fake node reading at most the runner's budget ([`crate::limits::max_read`]) per request.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_limit(crate::limits::max_read()).await
    }

    /// A fake node reading request bodies of at most `limit` bytes, plain or once inflated;
    /// bigger ones are answered 413 and recorded as unparseable.
    pub async fn start_with_limit(limit: usize) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(Inner::default()));
        let changed = Arc::new(Notify::new());
        let (s2, c2) = (Arc::clone(&state), Arc::clone(&changed));
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (s3, c3) = (Arc::clone(&s2), Arc::clone(&c2));
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(Arc::clone(&s3), Arc::clone(&c3), req, limit)
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            state,
            changed,
            task,
        })
    }

    /// Base URL for a client that talks to a node directly (inner dialect).
    pub fn node_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// URL for a client that talks to an Apps Script deployment (outer dialect).
    pub fn relay_url(&self) -> String {
        format!("http://{}/macros/s/conformance/exec", self.addr)
    }

    /// Sets an op's reply and answers its batch if that was the last one missing.
    pub fn reply(&self, op: usize, reply: Value) {
        let mut inner = lock(&self.state);
        inner.ops[op].reply = Some(reply);
        let batch = inner.ops[op].batch;
        complete_if_ready(&mut inner, batch);
    }

    /// Adds an entry to the `r` of the batch holding `op`, answered when that batch is.
    pub fn extra(&self, op: usize, at: ExtraAt, entry: Value) {
        let mut inner = lock(&self.state);
        let batch = inner.ops[op].batch;
        let rec = &mut inner.batches[batch];
        match at {
            ExtraAt::Start => rec.extra_start.push(entry),
            ExtraAt::End => rec.extra_end.push(entry),
        }
    }

    /// Answers a whole batch as `spec` says; `r` is the reply list (already substituted).
    pub fn respond(&self, batch: usize, spec: &RespondSpec, r: Option<Vec<Value>>) {
        let mut inner = lock(&self.state);
        let body = match (&spec.raw, r) {
            (Some(raw), _) => raw.clone().into_bytes(),
            (None, Some(r)) if inner.batches[batch].single => r
                .into_iter()
                .next()
                .unwrap_or(Value::Null)
                .to_string()
                .into_bytes(),
            (None, Some(r)) => json!({"r": r}).to_string().into_bytes(),
            (None, None) => {
                let r = filled_replies(&inner, batch);
                envelope_body(inner.batches[batch].single, r).into_bytes()
            }
        };
        let body = if spec.html_wrap {
            let mut wrapped = b"<html><body><pre>".to_vec();
            wrapped.extend(body);
            wrapped.extend_from_slice(b"</pre></body></html>");
            wrapped
        } else {
            body
        };
        let status = spec.status.unwrap_or(200);
        let ctype = if spec.raw.is_some() || spec.html_wrap {
            "text/html; charset=utf-8"
        } else {
            "application/json"
        };
        let mut resp = response(status, ctype, if spec.gzip { gzip(&body) } else { body });
        if spec.gzip {
            resp.headers_mut().insert(
                "content-encoding",
                hyper::header::HeaderValue::from_static("gzip"),
            );
        }
        if spec.redirect {
            inner.next_redirect += 1;
            let n = inner.next_redirect;
            inner.redirects.insert(n, resp);
            let mut r = response(302, "text/html", Vec::new());
            if let Ok(v) = format!("http://{}/redirect/{n}", self.addr).parse() {
                r.headers_mut().insert(hyper::header::LOCATION, v);
            }
            resp = r;
        }
        for &op in &inner.batches[batch].ops.clone() {
            if inner.ops[op].reply.is_none() {
                inner.ops[op].reply = Some(json!({"e": "answered by respond"}));
            }
        }
        if let Some(tx) = inner.batches[batch].responder.take() {
            let _ = tx.send(resp);
        }
    }

    /// Answers every op still waiting, so a finished case does not leave the client hanging.
    pub fn release(&self, how: &str) {
        let mut inner = lock(&self.state);
        for i in 0..inner.ops.len() {
            if inner.ops[i].reply.is_none() {
                let op = &inner.ops[i].op;
                let sid = op.get("sid").cloned().unwrap_or(json!("released"));
                let mut r = match how {
                    "eof" => json!({"sid": sid, "eof": true}),
                    "error" => json!({"e": "released by the conformance runner"}),
                    _ => json!({"sid": sid, "eof": false}),
                };
                if let (Some(seq), false) = (op.get("seq"), how == "error") {
                    r["seq"] = seq.clone();
                }
                inner.ops[i].reply = Some(r);
            }
        }
        for b in 0..inner.batches.len() {
            complete_if_ready(&mut inner, b);
        }
    }
}

fn response(status: u16, ctype: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn envelope_body(single: bool, r: Vec<Value>) -> String {
    if single {
        r.into_iter().next().unwrap_or(Value::Null).to_string()
    } else {
        json!({"r": r}).to_string()
    }
}

/// Replies of a batch with `close` ops answered automatically, and the extra entries a case
/// added.
fn filled_replies(inner: &Inner, batch: usize) -> Vec<Value> {
    let rec = &inner.batches[batch];
    let own = rec.ops.iter().map(|&i| {
        let op = &inner.ops[i];
        op.reply
            .clone()
            .unwrap_or_else(|| auto_reply(&op.op).unwrap_or(Value::Null))
    });
    rec.extra_start
        .iter()
        .cloned()
        .chain(own)
        .chain(rec.extra_end.iter().cloned())
        .collect()
}

/// The automatic answer for ops a case need not script: `close` is always `{sid, eof:true}`.
fn auto_reply(op: &Value) -> Option<Value> {
    (op.get("op") == Some(&json!("close")))
        .then(|| json!({"sid": op.get("sid").cloned().unwrap_or(Value::Null), "eof": true}))
}

fn complete_if_ready(inner: &mut Inner, batch: usize) {
    let ready = inner.batches[batch]
        .ops
        .iter()
        .all(|&i| inner.ops[i].reply.is_some() || auto_reply(&inner.ops[i].op).is_some());
    if !ready || inner.batches[batch].responder.is_none() {
        return;
    }
    let r = filled_replies(inner, batch);
    let body = envelope_body(inner.batches[batch].single, r);
    if let Some(tx) = inner.batches[batch].responder.take() {
        let _ = tx.send(response(200, "application/json", body.into_bytes()));
    }
}

/// Records the body's size and, over `body_limit`, the refusal a deployed node (or a relay in
/// front of one, for the outer dialect) gives: nothing of the request is recorded as run.
fn refuse_if_too_large(
    state: &Mutex<Inner>,
    path: &str,
    len: usize,
) -> Option<Response<Full<Bytes>>> {
    let mut inner = lock(state);
    inner.bodies.push(len);
    if inner.body_limit.is_none_or(|max| len <= max) {
        return None;
    }
    inner.refused += 1;
    Some(if path.starts_with("/macros/") {
        response(
            200,
            "application/json",
            br#"{"e":"tunnel batch HTTP 413"}"#.to_vec(),
        )
    } else {
        response(
            413,
            "text/plain; charset=utf-8",
            TOO_LARGE.as_bytes().to_vec(),
        )
    })
}

/// Normalises a request body into (envelope, ops, single).
fn ops_of(body: &Value) -> Option<(Vec<Value>, bool)> {
    if let Some(ops) = body.get("ops").and_then(Value::as_array) {
        return Some((ops.clone(), false));
    }
    let obj = body.as_object()?;
    // Inner single {k, op, host, port, sid, data} or outer single {k, t, h, p, sid, d}.
    let name = obj.get("op").or_else(|| obj.get("t"))?.clone();
    let mut op = serde_json::Map::new();
    op.insert("op".into(), name);
    for (from, to) in [
        ("host", "host"),
        ("h", "host"),
        ("port", "port"),
        ("p", "port"),
        ("sid", "sid"),
        ("data", "d"),
        ("d", "d"),
    ] {
        if let Some(v) = obj.get(from) {
            op.insert(to.into(), v.clone());
        }
    }
    Some((vec![Value::Object(op)], true))
}

/// Records a request the fake node refused as too large, and refuses it.
fn junk(state: &Mutex<Inner>, changed: &Notify, what: String) -> Response<Full<Bytes>> {
    lock(state).junk.push(what);
    changed.notify_waiters();
    response(
        413,
        "text/plain",
        b"over the conformance runner's request limit".to_vec(),
    )
}

async fn handle(
    state: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    req: Request<Incoming>,
    limit: usize,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() == hyper::Method::GET {
        let n = path
            .strip_prefix("/redirect/")
            .and_then(|n| n.parse::<u64>().ok());
        let stored = n.and_then(|n| lock(&state).redirects.remove(&n));
        return Ok(stored.unwrap_or_else(|| response(404, "text/html", DECOY.as_bytes().to_vec())));
    }
    let read = Limited::new(req.into_body(), limit).collect();
    let raw = match tokio::time::timeout(BODY_READ_LIMIT, read).await {
        Ok(Ok(b)) => b.to_bytes().to_vec(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return Ok(junk(
                &state,
                &changed,
                format!("{path}: a body over {limit} bytes"),
            ));
        }
        Ok(Err(_)) | Err(_) => return Ok(response(400, "text/plain", Vec::new())),
    };
    if let Some(refusal) = refuse_if_too_large(&state, &path, raw.len()) {
        changed.notify_waiters();
        return Ok(refusal);
    }
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        match crate::http::gunzip(&raw, limit) {
            Ok(t) => t,
            Err(e) => return Ok(junk(&state, &changed, format!("{path}: {e}"))),
        }
    } else {
        raw
    };
    let parsed: Option<Value> = serde_json::from_slice(&text).ok();
    let Some((envelope, (ops, single))) = parsed.and_then(|v| ops_of(&v).map(|o| (v, o))) else {
        lock(&state).junk.push(format!(
            "{path}: {}",
            crate::matcher::bytes::body_text(&text)
        ));
        changed.notify_waiters();
        return Ok(response(
            400,
            "application/json",
            br#"{"e":"bad json"}"#.to_vec(),
        ));
    };
    let (tx, rx) = oneshot::channel();
    {
        let mut inner = lock(&state);
        let batch = inner.batches.len();
        let first = inner.ops.len();
        for op in ops {
            inner.ops.push(OpRec {
                batch,
                op,
                claimed: None,
                reply: None,
                arrived: Instant::now(),
            });
        }
        let ids: Vec<usize> = (first..inner.ops.len()).collect();
        inner.batches.push(BatchRec {
            envelope,
            ops: ids,
            single,
            extra_start: Vec::new(),
            extra_end: Vec::new(),
            responder: Some(tx),
        });
        complete_if_ready(&mut inner, batch);
    }
    changed.notify_waiters();
    Ok(match tokio::time::timeout(HOLD_LIMIT, rx).await {
        Ok(Ok(resp)) => resp,
        _ => response(
            504,
            "text/plain",
            b"conformance runner never answered this batch".to_vec(),
        ),
    })
}
