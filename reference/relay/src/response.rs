//! What the relay answers with: the body type, the content types `ContentService` and Google's
//! front end use, and the "no answer at all" of a lost request or reply. Both the routes and
//! an execution (`exec`) answer, so this sits below both.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};

use crate::pages;

pub type Body = Full<Bytes>;

/// `ContentService` JSON.
pub const JSON: &str = "application/json; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";

/// The connection is closed without an answer: the client sees a transport error, as when a
/// request or reply is lost on the way.
#[derive(Debug, thiserror::Error)]
pub enum Dropped {
    #[error("dropped by an injected fault")]
    Fault,
    #[error("the client went away while sending its request")]
    ClientGone,
}

/// Google's 404 page.
pub fn not_found() -> Response<Body> {
    respond(StatusCode::NOT_FOUND, HTML, pages::NOT_FOUND_HTML)
}

pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, value);
    }
    resp
}
