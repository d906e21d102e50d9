//! HTTP surface (§1.4): `POST /tunnel/batch`, `POST /tunnel`, the health check, and the
//! operator's `GET /stats` / `GET /metrics` only when `--metrics-on-main-port` asks for them;
//! anything else is an nginx-like 404 so the node does not advertise itself.
//!
//! A request costs nothing but its raw bytes until its key matched (§1.4): the body is read
//! within the memory budget and the body limits, then probed (`seqtun_wire::probe`) for its key
//! and op count without building any op; only a request with the right key has its ops parsed
//! and run.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use seqtun_runtime::conn::body::{BodyError, BodyLimits, ConnHandle, read_body};
use seqtun_wire::body::{decode_body, is_gzip};
use seqtun_wire::envelope::parse_single;
use seqtun_wire::ops::Data;
use seqtun_wire::ops::raw::parse_ops;
use seqtun_wire::probe::{ProbeError, probe_batch, probe_single};
use seqtun_wire::reply::{OpError, Reply};
use seqtun_wire::{BatchResponse, Op};
use serde::Serialize;

use crate::NodeState;
use crate::auth::{key_matches, nginx_page};
use crate::batch::execute;
use crate::deployed;
use crate::exchange::Exchange;
use crate::memory::{Charge, Class};
use crate::reply_body::ReplyBody;
use crate::response::{Body, json_response, not_found, respond, with_headers};
use crate::single::run_single;

pub async fn handle(
    state: Arc<NodeState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if state.cfg.stats_on_main_port
        && let Some(resp) =
            seqtun_runtime::metrics::answer(state.as_ref(), req.method(), req.uri().path())
    {
        let (parts, body) = resp.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Ok(Response::from_parts(parts, ReplyBody::once(bytes)));
    }
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let health = state.cfg.health_path.as_deref();
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, path) if Some(path) == health => respond(StatusCode::OK, "text/plain", "ok"),
        (&Method::POST, "/tunnel/batch") => batch(&state, req.into_body(), conn).await,
        (&Method::POST, "/tunnel") => single(&state, req.into_body(), conn).await,
        (method, path) if state.cfg.faults.deployed_http_surface => {
            deployed::unrouted(method, path)
        }
        _ => not_found(),
    };
    Ok(resp)
}

/// The body limit, and how a body over it is answered.
fn limit(state: &NodeState) -> usize {
    let configured = state.cfg.params.max_body_bytes;
    if state.cfg.faults.deployed_body_limit {
        deployed::body_limit(configured)
    } else {
        configured
    }
}

/// Reads a body within the limits and the memory budget; the returned charge pays for it.
async fn read(
    state: &NodeState,
    body: Incoming,
    conn: Option<ConnHandle>,
) -> Result<(Bytes, Charge), BodyError> {
    let lim = BodyLimits {
        limit: limit(state),
        limit_flag: "--max-body-bytes",
        drain: state.cfg.params.refused_body_drain,
        rate: state.cfg.conn.body,
    };
    let mut charge = state.memory().charge(Class::Bodies);
    let bytes = read_body(body, &lim, conn.as_ref(), &mut charge).await?;
    Ok((bytes, charge))
}

async fn batch(state: &Arc<NodeState>, body: Incoming, conn: Option<ConnHandle>) -> Response<Body> {
    match read(state, body, conn).await {
        Ok((raw, charge)) => batch_body(state, raw, charge).await,
        Err(e) => body_error(state, e, BatchResponse::failed),
    }
}

/// Answers a batch body that was read whole (`charge` pays for it). Public for the fuzz
/// targets, which drive the whole path without sockets (`reference/fuzzing`).
pub async fn batch_body(state: &Arc<NodeState>, raw: Bytes, mut charge: Charge) -> Response<Body> {
    let max_body = state.cfg.params.max_body_bytes;
    let probe = match probe_batch(&raw, max_body) {
        Ok(p) => p,
        Err(e) => return malformed(state, e, BatchResponse::failed),
    };
    if probe.k.is_none() && state.cfg.faults.missing_key_is_bad_json {
        return deployed::missing_key_batch(raw.len());
    }
    let skip_check = probe.k.is_none() && state.cfg.faults.missing_key_runs_ops;
    if !skip_check && !key_matches(&state.cfg.key, probe.k.as_deref()) {
        return unauthorized(state, BatchResponse::failed);
    }
    let n = probe.ops.unwrap_or(0);
    let limit = state.cfg.params.max_batch_ops;
    if n > limit {
        state.stats.batch(&[]);
        let entry = serde_json::to_vec(&Reply::from(OpError::TooManyOps { count: n, limit }))
            .unwrap_or_default();
        return with_headers(
            StatusCode::OK,
            "application/json",
            ReplyBody::repeated(entry.into(), n),
        );
    }
    let json: Cow<'_, [u8]> = if is_gzip(&raw) {
        match decode_body(&raw, max_body) {
            Ok(json) => {
                if let Err(e) = charge.try_grow(json.len(), state.memory().limit()) {
                    return body_error(
                        state,
                        BodyError::Refused(e.to_string()),
                        BatchResponse::failed,
                    );
                }
                json
            }
            Err(e) => return json_response(StatusCode::OK, &BatchResponse::failed(e.to_string())),
        }
    } else {
        Cow::Borrowed(&raw)
    };
    let (ops, retained) = match parse_ops(&json) {
        Ok(parsed) => (parsed.ops, parsed.retained),
        Err(e) => return json_response(StatusCode::OK, &BatchResponse::failed(e.to_string())),
    };
    drop(json);
    drop(raw);
    // The raw body is gone; what stays charged is what the parsed ops keep (§5.6).
    charge.shrink_to(retained);
    let kinds = state.stats.batch(&ops);
    note_dialects(state, &ops);
    let exchange = Exchange::new(state);
    let r = exchange.run(execute(state, ops)).await;
    state.stats.replies(&kinds, &r);
    drop(charge);
    // Written by the wire's encoder: the same bytes as serde_json, without its per-byte escape
    // checks over the base64 (bench/README.md, node CPU).
    let body = seqtun_wire::envelope::encode_response(&BatchResponse { r, e: None });
    answer_bytes(state, body, exchange)
}

async fn single(
    state: &Arc<NodeState>,
    body: Incoming,
    conn: Option<ConnHandle>,
) -> Response<Body> {
    let error = |text: String| Reply {
        e: Some(text),
        ..Reply::default()
    };
    match read(state, body, conn).await {
        Ok((raw, charge)) => single_body(state, raw, charge).await,
        Err(e) => body_error(state, e, error),
    }
}

/// Answers a single-op body that was read whole (`_charge` pays for it); public for the fuzz
/// targets.
pub async fn single_body(state: &Arc<NodeState>, raw: Bytes, _charge: Charge) -> Response<Body> {
    let error = |text: String| Reply {
        e: Some(text),
        ..Reply::default()
    };
    let probe = match probe_single(&raw) {
        Ok(p) => p,
        Err(e) => return malformed(state, e, error),
    };
    if probe.k.is_none() && state.cfg.faults.missing_key_is_bad_json {
        return deployed::missing_key_single(raw.len());
    }
    if !key_matches(&state.cfg.key, probe.k.as_deref()) {
        return unauthorized(state, error);
    }
    let req = match parse_single(&raw) {
        Ok(req) => req,
        Err(e) => return json_response(StatusCode::OK, &error(e.to_string())),
    };
    let op = Op::from_wire(req.to_batch_op());
    let kind = state.stats.single(&op);
    if let Op::Data(Data { sid: Ok(sid), .. }) = &op {
        state.table.note_data(sid, false);
    }
    let exchange = Exchange::new(state);
    let reply = exchange.run(run_single(state, op)).await;
    state.stats.replies(&[kind], std::slice::from_ref(&reply));
    answer(state, &reply, exchange)
}

/// A wrong or missing key: nginx's 404, or JSON `unauthorized` in diagnostic mode.
fn unauthorized<T: Serialize>(state: &NodeState, wrap: impl Fn(String) -> T) -> Response<Body> {
    state.stats.unauthorized();
    tracing::debug!("request with a wrong or missing key");
    if !state.cfg.diagnostic {
        return not_found();
    }
    json_response(StatusCode::OK, &wrap(OpError::Unauthorized.to_string()))
}

/// A body that is not a usable envelope: `bad json` / `gzip decode` with HTTP 200 as deployed
/// (§1.4), or nginx's 404 with `--stealth`, which never tells a request without the key that a
/// tunnel node is there.
fn malformed<T: Serialize>(
    state: &NodeState,
    e: ProbeError,
    wrap: impl Fn(String) -> T,
) -> Response<Body> {
    if state.cfg.stealth && !state.cfg.diagnostic {
        return not_found();
    }
    json_response(StatusCode::OK, &wrap(e.to_string()))
}

/// The encoded answer, charged to the memory budget while hyper holds it.
fn answer<T: Serialize>(state: &NodeState, value: &T, exchange: Arc<Exchange>) -> Response<Body> {
    let bytes = match serde_json::to_vec(value) {
        Ok(bytes) => bytes,
        Err(e) => {
            return respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("reply encoding failed: {e}"),
            );
        }
    };
    answer_bytes(state, bytes, exchange)
}

/// A JSON answer already encoded, charged to the memory budget while the connection holds it.
fn answer_bytes(state: &NodeState, bytes: Vec<u8>, exchange: Arc<Exchange>) -> Response<Body> {
    let charge = state.memory().force(Class::Replies, bytes.len());
    let body = ReplyBody::once(bytes)
        .charged(charge)
        .for_exchange(exchange);
    with_headers(StatusCode::OK, "application/json", body)
}

/// Tells the stats which dialect each data op's session speaks.
fn note_dialects(state: &NodeState, ops: &[Op]) {
    for op in ops {
        if let Op::Data(d @ Data { sid: Ok(sid), .. }) = op {
            state.table.note_data(sid, d.seqd(&state.rules).is_some());
        }
    }
}

fn body_error<T: Serialize>(
    state: &NodeState,
    e: BodyError,
    wrap: impl Fn(String) -> T,
) -> Response<Body> {
    tracing::warn!("{e}");
    if matches!(e, BodyError::TooLarge { .. }) && state.cfg.faults.deployed_body_limit {
        return deployed::too_large();
    }
    let status = match e {
        BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Refused(_) => {
            state
                .memory()
                .refused_bodies
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            StatusCode::SERVICE_UNAVAILABLE
        }
        BodyError::TooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
        BodyError::Io(_) => StatusCode::BAD_REQUEST,
    };
    let mut resp = if state.cfg.stealth && !state.cfg.diagnostic {
        respond(status, "text/html", nginx_page(status.as_u16()))
    } else {
        json_response(status, &wrap(e.to_string()))
    };
    if status != StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read: the connection cannot carry another request.
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
