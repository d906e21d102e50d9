//! HTTP surface (§1.4): `POST /tunnel/batch`, `POST /tunnel`, `GET /health`, and the
//! operator's `GET /stats` (JSON) and `GET /metrics` (Prometheus) unless `--metrics` moved them
//! to their own listener; anything else is an nginx-like 404 so the node does not advertise
//! itself.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use seqtun_wire::body::decode_body;
use seqtun_wire::envelope::{parse_incoming, parse_single};
use seqtun_wire::ops::{Data, parse_batch};
use seqtun_wire::reply::{OpError, Reply};
use seqtun_wire::{BatchResponse, Op};
use serde::Serialize;

use crate::NodeState;
use crate::auth::key_matches;
use crate::batch::execute;
use crate::deployed;
use crate::response::{Body, json_response, not_found, respond};
use crate::single::run_single;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyReadError {
    #[error("request body too large: limit {limit} bytes (raise --max-body-bytes)")]
    TooLarge { limit: usize },
    #[error("request body read failed: {0}")]
    Io(String),
}

pub async fn handle(
    state: Arc<NodeState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if state.cfg.stats_on_main_port
        && let Some(resp) =
            seqtun_runtime::metrics::answer(state.as_ref(), req.method(), req.uri().path())
    {
        return Ok(resp);
    }
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => respond(StatusCode::OK, "text/plain", "ok"),
        (&Method::POST, "/tunnel/batch") => batch(&state, req.into_body()).await,
        (&Method::POST, "/tunnel") => single(&state, req.into_body()).await,
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

/// Reads a body of at most `limit` bytes; over it, reads up to `drain` more (dropped) so the
/// client is done sending when the 413 goes out.
async fn read_body(mut body: Incoming, limit: usize, drain: usize) -> Result<Bytes, BodyReadError> {
    let mut kept = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyReadError::Io(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            kept.extend_from_slice(&data);
        } else if total > limit.saturating_add(drain) {
            break;
        }
    }
    if total > limit {
        return Err(BodyReadError::TooLarge { limit });
    }
    Ok(kept.freeze())
}

async fn batch(state: &Arc<NodeState>, body: Incoming) -> Response<Body> {
    let drain = state.cfg.params.refused_body_drain;
    let raw = match read_body(body, limit(state), drain).await {
        Ok(raw) => raw,
        Err(e) => return body_error(state, e, BatchResponse::failed),
    };
    let json = match decode_body(&raw, state.cfg.params.max_body_bytes) {
        Ok(json) => json,
        Err(e) => return json_response(StatusCode::OK, &BatchResponse::failed(e.to_string())),
    };
    let incoming = match parse_incoming(&json) {
        Ok(incoming) => incoming,
        Err(e) => return json_response(StatusCode::OK, &BatchResponse::from(e)),
    };
    if incoming.k.is_none() && state.cfg.faults.missing_key_is_bad_json {
        return deployed::missing_key_batch(json.len());
    }
    let skip_check = incoming.k.is_none() && state.cfg.faults.missing_key_runs_ops;
    if !skip_check && !key_matches(&state.cfg.key, incoming.k.as_deref()) {
        state.stats.unauthorized();
        tracing::debug!("batch with a wrong or missing key");
        return if state.cfg.diagnostic {
            json_response(
                StatusCode::OK,
                &BatchResponse::failed(OpError::Unauthorized.to_string()),
            )
        } else {
            not_found()
        };
    }
    let ops = parse_batch(incoming.ops);
    let kinds = state.stats.batch(&ops);
    note_dialects(state, &ops);
    let r = execute(state, ops).await;
    state.stats.replies(&kinds, &r);
    // Written by the wire's encoder: the same bytes as serde_json, without its per-byte escape
    // checks over the base64 (bench/README.md, node CPU).
    let body = seqtun_wire::envelope::encode_response(&BatchResponse { r, e: None });
    respond(StatusCode::OK, "application/json", body)
}

async fn single(state: &Arc<NodeState>, body: Incoming) -> Response<Body> {
    let error = |text: String| Reply {
        e: Some(text),
        ..Reply::default()
    };
    let drain = state.cfg.params.refused_body_drain;
    let raw = match read_body(body, limit(state), drain).await {
        Ok(raw) => raw,
        Err(e) => return body_error(state, e, error),
    };
    let req = match parse_single(&raw) {
        Ok(req) => req,
        Err(e) => return json_response(StatusCode::OK, &error(e.to_string())),
    };
    if req.k.is_none() && state.cfg.faults.missing_key_is_bad_json {
        return deployed::missing_key_single(raw.len());
    }
    if !key_matches(&state.cfg.key, req.k.as_deref()) {
        state.stats.unauthorized();
        return if state.cfg.diagnostic {
            json_response(StatusCode::OK, &Reply::from(OpError::Unauthorized))
        } else {
            not_found()
        };
    }
    let op = Op::from_wire(req.to_batch_op());
    let kind = state.stats.single(&op);
    if let Op::Data(Data { sid: Ok(sid), .. }) = &op {
        state.table.note_data(sid, false);
    }
    let reply = run_single(state, op).await;
    state.stats.replies(&[kind], std::slice::from_ref(&reply));
    json_response(StatusCode::OK, &reply)
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
    e: BodyReadError,
    wrap: impl Fn(String) -> T,
) -> Response<Body> {
    tracing::warn!("{e}");
    if matches!(e, BodyReadError::TooLarge { .. }) && state.cfg.faults.deployed_body_limit {
        return deployed::too_large();
    }
    let status = match e {
        BodyReadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyReadError::Io(_) => StatusCode::BAD_REQUEST,
    };
    json_response(status, &wrap(e.to_string()))
}
