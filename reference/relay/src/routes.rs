//! The relay's HTTP surface: the exec URL of any deployment, the one-time reply URLs, and
//! `GET /stats` (JSON) and `GET /metrics` (Prometheus) for the emulator's counters. Anything
//! else gets Google's 404 page.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, Response, StatusCode};

use seqtun_runtime::conn::body::ConnHandle;

use crate::exec;
use crate::lock;
use crate::pages;
use crate::redirect::{ECHO_PATH, token_of};
use crate::response::{Body, Dropped, HTML, not_found, respond};
use crate::state::RelayState;

pub async fn handle(
    state: Arc<RelayState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path().to_owned();
    if let Some(id) = exec_deployment(&path) {
        let Some(dep) = state.deployment(id) else {
            return Ok(not_found());
        };
        return match *req.method() {
            Method::POST => {
                let host = req
                    .headers()
                    .get(HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned);
                let conn = req.extensions().get::<ConnHandle>().cloned();
                exec::post(&state, &dep, req.into_body(), host, conn).await
            }
            Method::GET => {
                // doGet: the relay script answers every GET with the decoy.
                let body = pages::DECOY_HTML.as_bytes();
                state.stats.with(&dep.id, |d| {
                    d.calls += 1;
                    d.bytes_out += body.len() as u64;
                });
                Ok(respond(StatusCode::OK, HTML, body))
            }
            _ => Ok(not_found()),
        };
    }
    Ok(match (req.method(), path.as_str()) {
        (&Method::GET, ECHO_PATH) => one_time(&state, token_of(req.uri().query())),
        (&Method::GET, "/stats" | "/metrics") => {
            match seqtun_runtime::metrics::answer(state.as_ref(), req.method(), &path) {
                Some(resp) => resp,
                None => not_found(),
            }
        }
        _ => not_found(),
    })
}

/// Serves a stored reply once; afterwards the URL is a 404.
fn one_time(state: &RelayState, token: Option<&str>) -> Response<Body> {
    let stored = token.and_then(|t| lock(&state.redirects).take(t, tokio::time::Instant::now()));
    match stored {
        Some(stored) => {
            let n = stored.body.len() as u64;
            state.stats.with(&stored.deployment, |d| d.bytes_out += n);
            respond(StatusCode::OK, stored.content_type, stored.body)
        }
        None => not_found(),
    }
}

/// The deployment id of `/macros/s/<id>/exec`.
pub fn exec_deployment(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/macros/s/")?.strip_suffix("/exec")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_paths() {
        assert_eq!(exec_deployment("/macros/s/AKfy-123/exec"), Some("AKfy-123"));
        assert_eq!(exec_deployment("/macros/s//exec"), None);
        assert_eq!(exec_deployment("/macros/s/a/b/exec"), None);
        assert_eq!(exec_deployment("/macros/s/a/dev"), None);
        assert_eq!(exec_deployment("/stats"), None);
    }
}
