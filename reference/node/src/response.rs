//! How the node answers over HTTP: JSON replies, and a server header, header order and error
//! pages that look like the nginx deployed nodes sit behind, so a probe learns nothing (§1.4).
//! The routes and the deployed stand-in answers (`deployed`) both use these, so they sit below
//! both. Bodies are [`ReplyBody`]s, so an answer can stay charged to the memory budget while
//! hyper holds it (§5.6).

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::auth::NGINX_404;
use crate::reply_body::ReplyBody;

pub type Body = ReplyBody;

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
    with_headers(status, content_type, ReplyBody::once(body))
}

/// `Server: nginx` first, then the content type, in the order nginx sends them.
pub(crate) fn with_headers(
    status: StatusCode,
    content_type: &str,
    body: ReplyBody,
) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(SERVER, HeaderValue::from_static("nginx"));
    if let Ok(value) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, value);
    }
    resp
}
