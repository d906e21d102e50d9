//! How the node answers over HTTP: JSON replies, and a server header and 404 that look like the
//! nginx deployed nodes sit behind, so a probe learns nothing. The routes and the deployed
//! stand-in answers (`deployed`) both use these, so they sit below both.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::auth::NGINX_404;

pub type Body = Full<Bytes>;

pub(crate) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => respond(status, "application/json", bytes),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("reply encoding failed: {e}"),
        ),
    }
}

/// nginx's 404 page: what a wrong key or an unknown path gets.
pub(crate) fn not_found() -> Response<Body> {
    respond(StatusCode::NOT_FOUND, "text/html", NGINX_404)
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, value);
    }
    resp.headers_mut().insert(
        hyper::header::SERVER,
        hyper::header::HeaderValue::from_static("nginx"),
    );
    resp
}
