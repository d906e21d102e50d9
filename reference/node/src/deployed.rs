//! Answers as deployed nodes give them, for the faults that make the reference node stand in
//! for one (`config::Faults`, `standin`). Deployed nodes are axum apps with three routes, no
//! fallback and axum's default extractors, so probers and clients see axum's stock answers:
//! 405 with `allow` on a route's other methods, an empty 404 elsewhere, 413 over 2 MiB, and a
//! missing `k` reported as a JSON error before the key is checked (wire-reference §1.4).

use bytes::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode};
use seqtun_wire::BatchResponse;
use seqtun_wire::params::DEPLOYED_BODY_LIMIT;

use crate::reply_body::ReplyBody;
use crate::response::{Body, json_response};

/// axum's answer to a body over its limit.
pub const TOO_LARGE_TEXT: &str = "Failed to buffer the request body: length limit exceeded";

fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(ReplyBody::once(body));
    *resp.status_mut() = status;
    resp
}

/// The body limit in force with the `deployed_body_limit` fault.
pub fn body_limit(configured: usize) -> usize {
    configured.min(DEPLOYED_BODY_LIMIT)
}

/// 413 with axum's text, as deployed nodes answer a body over 2 MiB.
pub fn too_large() -> Response<Body> {
    let mut resp = plain(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE_TEXT);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A request no route takes: 405 with `allow` on a known path, an empty 404 elsewhere.
pub fn unrouted(method: &Method, path: &str) -> Response<Body> {
    let allow = match path {
        "/tunnel" | "/tunnel/batch" => "POST",
        "/health" if method == Method::HEAD => return plain(StatusCode::OK, ""),
        "/health" => "GET,HEAD",
        _ => return plain(StatusCode::NOT_FOUND, ""),
    };
    let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

/// serde's complaint about a missing `k` in a one-line body of `len` bytes.
fn missing_key(len: usize) -> String {
    format!("missing field `k` at line 1 column {len}")
}

/// A batch without `k`: a parse error, HTTP 200, whatever the key would have been (E-3).
pub fn missing_key_batch(len: usize) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &BatchResponse::failed(format!("bad json: {}", missing_key(len))),
    )
}

/// A single op without `k`: axum's JSON extractor rejects it with 422 and plain text.
pub fn missing_key_single(len: usize) -> Response<Body> {
    plain(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "Failed to deserialize the JSON body into the target type: {}",
            missing_key(len)
        ),
    )
}
