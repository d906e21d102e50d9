//! One execution of the relay script: the platform around `dialect` (limits, latency, faults)
//! and the node fetch.
//!
//! The order follows what a call meets in the field: Google's front end refuses calls over
//! the concurrency limit before anything runs, the execution then costs its latency, the
//! script runs, and only its `UrlFetchApp` calls spend quota. Faults are placed where their
//! field counterpart happens, so "drop_request" never reaches the node and "drop_reply" always
//! has.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Response, StatusCode};
use seqtun_runtime::conn::body::{BodyError, BodyLimits, ConnHandle, read_body};

use crate::dialect::{Answer, Fetch, Outcome, Route};
use crate::faults::{Action, DuplicateReply};
use crate::node_client::NodeReply;
use crate::pages::{self, QUOTA_EXCEPTION};
use crate::response::{Body, Dropped, HTML, JSON, respond};
use crate::rewrite::rewrite;
use crate::state::{Deployment, RelayState};
use crate::stats::DeploymentStats;

/// Handles `POST /macros/s/<deployment>/exec`.
pub async fn post(
    state: &Arc<RelayState>,
    dep: &Deployment,
    body: Incoming,
    host: Option<String>,
    conn: Option<ConnHandle>,
) -> Result<Response<Body>, Dropped> {
    let call = state.next_call();
    let decision = state.cfg.faults.decide(call);
    let action = decision.action.clone();
    // Google's front end refuses a call over the concurrency limit before anything of it is
    // read, so a refused call holds no body.
    let Some(_slot) = dep.try_slot() else {
        state.stats.with(&dep.id, |d| {
            d.calls += 1;
            d.over_concurrency += 1;
        });
        let page = respond(StatusCode::TOO_MANY_REQUESTS, HTML, pages::TOO_MANY_HTML);
        return Ok(closing(counted(state, dep, page)));
    };
    let limit = state.cfg.max_request_bytes;
    let lim = BodyLimits {
        limit,
        limit_flag: "--max-request-bytes",
        drain: 0,
        rate: state.cfg.conn.body,
    };
    let mut charge = state.body_memory.charge();
    let raw = match read_body(body, &lim, conn.as_ref(), &mut charge).await {
        Ok(raw) => Ok(raw),
        Err(BodyError::TooLarge { .. }) => Err(format!(
            "request body too large: limit {limit} bytes (raise --max-request-bytes)"
        )),
        Err(BodyError::Refused(why)) => {
            tracing::warn!(deployment = %dep.id, "{why}");
            state.stats.with(&dep.id, |d| d.calls += 1);
            let page = respond(
                StatusCode::SERVICE_UNAVAILABLE,
                HTML,
                pages::server_error_html(503),
            );
            return Ok(closing(counted(state, dep, page)));
        }
        Err(BodyError::TooSlow { .. } | BodyError::Io(_)) => return Err(Dropped::ClientGone),
    };
    let len = raw.as_ref().map_or(limit, Bytes::len) as u64;
    state.stats.with(&dep.id, |d| {
        d.calls += 1;
        d.bytes_in += len;
    });
    let _running = Gauge::up(state, dep, |d| &mut d.in_flight);
    // The request's bytes cross the call at the deployment's rate, then the fixed latency.
    let delay = dep.limits.latency
        + decision.jitter(dep.limits.jitter)
        + dep.limits.transfer_time(len as usize);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match action {
        Action::DropRequest => {
            state.stats.fault(action.kind());
            return Err(Dropped::Fault);
        }
        Action::Decoy => {
            state.stats.fault(action.kind());
            return Ok(deliver(state, dep, Answer::Decoy, host));
        }
        Action::ServerError { status } => {
            state.stats.fault(action.kind());
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let page = respond(status, HTML, pages::server_error_html(status.as_u16()));
            return Ok(counted(state, dep, page));
        }
        _ => {}
    }
    let answer = match raw {
        Err(too_large) => state.script.exception(&too_large),
        Ok(raw) => {
            let answer = run(state, dep, &raw, &action).await;
            drop((raw, charge));
            answer
        }
    };
    if action == Action::DropReply {
        state.stats.fault(action.kind());
        return Err(Dropped::Fault);
    }
    let reply_len = match &answer {
        Answer::Json(text) => text.len(),
        Answer::Decoy => pages::DECOY_HTML.len(),
    };
    let transfer = dep.limits.transfer_time(reply_len);
    if !transfer.is_zero() {
        tokio::time::sleep(transfer).await;
    }
    Ok(deliver(state, dep, answer, host))
}

/// The script proper, with the faults that act on its fetch.
async fn run(state: &Arc<RelayState>, dep: &Deployment, raw: &[u8], action: &Action) -> Answer {
    let strip = state.cfg.strip_unknown_fields || *action == Action::StripUnknown;
    let fetch = match state.script.run(raw, strip) {
        Outcome::Answer(answer) => return answer,
        Outcome::Fetch(fetch) => fetch,
    };
    if *action == Action::StripUnknown && fetch.route == Route::Batch {
        state.stats.fault(action.kind());
    }
    if let Action::HoldBack { after, max_ms } = *action {
        state.stats.fault(action.kind());
        let _held = Gauge::up(state, dep, |d| &mut d.held);
        let mut answered = state.answered_watch();
        let start = *answered.borrow_and_update();
        let released = answered.wait_for(|n| *n >= start.saturating_add(after));
        let _ = tokio::time::timeout(Duration::from_millis(max_ms), released).await;
    }
    let mut reply = fetch_once(state, dep, &fetch).await;
    if let Action::Duplicate { reply: which } = *action {
        state.stats.fault(action.kind());
        let second = fetch_once(state, dep, &fetch).await;
        if which == DuplicateReply::Second {
            reply = second;
        }
    }
    state.answered();
    let answer = match reply {
        Ok(r) => state.script.node_reply(
            fetch.route,
            r.status,
            String::from_utf8_lossy(&r.body).into_owned(),
        ),
        Err(exception) => state.script.exception(&exception),
    };
    if let (Route::Batch, Answer::Json(text)) = (fetch.route, &answer)
        && let Some(rewritten) = rewrite(action, text)
    {
        state.stats.fault(action.kind());
        return Answer::Json(rewritten);
    }
    answer
}

/// One `UrlFetchApp.fetch`: spends quota, then POSTs to the node. The error is the text of
/// the exception Apps Script would throw.
async fn fetch_once(
    state: &RelayState,
    dep: &Deployment,
    fetch: &Fetch,
) -> Result<NodeReply, String> {
    if !dep.take_quota() {
        state.stats.with(&dep.id, |d| d.over_quota += 1);
        return Err(QUOTA_EXCEPTION.to_owned());
    }
    let sent = fetch.body.len() as u64;
    state.stats.with(&dep.id, |d| {
        d.node_fetches += 1;
        d.bytes_to_node += sent;
    });
    let reply = state
        .node
        .post(
            fetch.route.path(),
            fetch.body.clone(),
            dep.limits.max_response_bytes,
            state.cfg.fetch_timeout,
        )
        .await
        .map_err(|e| {
            let text = e.to_string();
            let n = state.node_failures.fetch_add(1, Ordering::Relaxed) + 1;
            if should_log(n) {
                tracing::warn!(deployment = %dep.id, failures = n, "node fetch failed: {text} (is the node running at --node / TUNNEL_SERVER_URL?)");
            }
            text
        })?;
    let got = reply.body.len() as u64;
    let http_error = reply.status != 200;
    state.stats.with(&dep.id, |d| {
        d.bytes_from_node += got;
        d.truncated += u64::from(reply.truncated);
        d.node_http_errors += u64::from(http_error);
    });
    if http_error {
        let n = state.node_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if should_log(n) {
            tracing::warn!(deployment = %dep.id, failures = n, "{}", node_status_hint(reply.status, &state.cfg.node_url, fetch.route.path()));
        }
    }
    if reply.truncated {
        tracing::warn!(
            deployment = %dep.id,
            cap = dep.limits.max_response_bytes,
            "node reply cut at the response size cap"
        );
    }
    Ok(reply)
}

/// Node failures are logged the first time and then every [`LOG_EVERY`]th, so a wrong key
/// does not flood the log with one line per call.
pub const LOG_EVERY: u64 = 100;

fn should_log(n: u64) -> bool {
    n == 1 || n.is_multiple_of(LOG_EVERY)
}

/// What a non-200 answer from the node most likely means, naming the fix.
pub fn node_status_hint(status: u16, node_url: &str, path: &str) -> String {
    match status {
        404 => format!(
            "node answered HTTP 404 for {node_url}{path}: either the node key is wrong (--node-key / TUNNEL_AUTH_KEY must equal the node's TUNNEL_AUTH_KEY) or the node URL is (--node / TUNNEL_SERVER_URL must be the node's base URL, without /tunnel/batch)"
        ),
        413 => format!(
            "node answered HTTP 413 for {node_url}{path}: the batch is over the node's body limit (raise the node's --max-body-bytes)"
        ),
        _ => format!("node answered HTTP {status} for {node_url}{path}"),
    }
}

/// The script's answer as the client receives it: directly, or behind a one-time redirect.
fn deliver(
    state: &RelayState,
    dep: &Deployment,
    answer: Answer,
    host: Option<String>,
) -> Response<Body> {
    let (content_type, body) = match answer {
        Answer::Json(text) => (JSON, Bytes::from(text)),
        Answer::Decoy => (HTML, Bytes::from_static(pages::DECOY_HTML.as_bytes())),
    };
    if !state.cfg.redirect {
        return counted(state, dep, respond(StatusCode::OK, content_type, body));
    }
    let location = state.store_redirect(&dep.id, content_type, body, host);
    let mut resp = respond(StatusCode::FOUND, HTML, pages::MOVED_HTML);
    if let Ok(value) = location.parse() {
        resp.headers_mut().insert(hyper::header::LOCATION, value);
    }
    resp
}

/// The request body was not read: the connection cannot carry another request.
fn closing(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Counts a response's body as bytes sent to the client.
fn counted(state: &RelayState, dep: &Deployment, resp: Response<Body>) -> Response<Body> {
    let n = hyper::body::Body::size_hint(resp.body())
        .exact()
        .unwrap_or(0);
    state.stats.with(&dep.id, |d| d.bytes_out += n);
    resp
}

/// Raises a per-deployment gauge for as long as it lives, so a call the client abandons
/// (dropping the future) still lowers it.
struct Gauge<'a> {
    state: &'a RelayState,
    dep: &'a str,
    field: fn(&mut DeploymentStats) -> &mut u64,
}

impl<'a> Gauge<'a> {
    fn up(
        state: &'a RelayState,
        dep: &'a Deployment,
        field: fn(&mut DeploymentStats) -> &mut u64,
    ) -> Self {
        state.stats.with(&dep.id, |d| *field(d) += 1);
        Self {
            state,
            dep: &dep.id,
            field,
        }
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        let field = self.field;
        self.state.stats.with(self.dep, |d| *field(d) -= 1);
    }
}
