//! Plain HTTP proxying: a browser whose HTTP proxy is this listener sends `GET http://host/
//! HTTP/1.1` for plain-HTTP sites (absolute form, RFC 9112 §3.2.2) instead of `CONNECT`.
//!
//! hyper serves the app's connection; each request becomes a session to its host (port 80
//! unless given), carried over a loopback socket pair so the session code is the same as for
//! CONNECT: one end is the session's "app", the other a hyper client connection that writes
//! the request in origin form, so the request itself rides in `connect_data`. The app is
//! answered only after the node did: the response, or a 502/504 naming why (§6.7). A front
//! end that cannot be told "connected" early needs no optimism to be fast here.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use seqtun_wire::client::FailureClass;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};

use super::prefixed::Prefixed;
use super::{Accepted, Front, Sessions, Target};

type Body = Either<Incoming, Full<Bytes>>;

/// What the session tells the plain front end once the node answered the open.
pub type Verdict = Result<(), (FailureClass, String)>;

/// Hop-by-hop and proxy headers that must not reach the origin (RFC 9110 §7.6.1).
const HOP_HEADERS: [&str; 8] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

/// Serves plain proxy requests on `stream`, whose first bytes (`head`) were already read.
pub async fn serve<S: Sessions>(
    ctx: Arc<S>,
    sessions: Arc<Semaphore>,
    stream: TcpStream,
    head: Vec<u8>,
) {
    let io = TokioIo::new(Prefixed::new(head, stream));
    let service = service_fn(move |req| {
        let (ctx, sessions) = (Arc::clone(&ctx), Arc::clone(&sessions));
        async move { Ok::<_, Infallible>(proxy(ctx, sessions, req).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!("plain proxy connection ended: {e}");
    }
}

/// The target of an absolute-form `http://` request.
pub fn target_of(uri: &Uri) -> Result<Target, String> {
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "scheme {other}: only http:// is proxied in plain form; use CONNECT for https"
            ));
        }
        None => {
            return Err("not a proxy request: the request target must be an absolute http:// URL (or use CONNECT)".into());
        }
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or("no host in the URL")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Target {
        host: host.to_string(),
        port: uri.port_u16().unwrap_or(80),
    })
}

async fn proxy<S: Sessions>(
    ctx: Arc<S>,
    sessions: Arc<Semaphore>,
    req: Request<Incoming>,
) -> Response<Body> {
    let target = match target_of(req.uri()) {
        Ok(t) => t,
        Err(why) => return text(StatusCode::BAD_REQUEST, &format!("seqtun-client: {why}")),
    };
    let Ok(permit) = sessions.try_acquire_owned() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "seqtun-client: session limit reached (raise --max-sessions)",
        );
    };
    let (app_end, session_end) = match socket_pair().await {
        Ok(pair) => pair,
        Err(e) => return text(StatusCode::BAD_GATEWAY, &format!("seqtun-client: {e}")),
    };
    let (tx, verdict) = oneshot::channel();
    let acc = Accepted {
        stream: session_end,
        target: target.clone(),
        front: Front::Plain,
        early: Vec::new(),
        verdict: Some(tx),
    };
    tokio::spawn(async move {
        let _permit = permit;
        ctx.run(acc).await;
    });
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(TokioIo::new(app_end)).await {
            Ok(pair) => pair,
            Err(e) => return text(StatusCode::BAD_GATEWAY, &format!("seqtun-client: {e}")),
        };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let sent = sender.send_request(origin_form(req, &target));
    tokio::pin!(sent);
    // The node's verdict on the open comes first; the response can only follow a yes. Biased:
    // a refused open sends its verdict before it drops the session's end, so when both are
    // ready the verdict says why, where the hyper client would only see the socket close.
    tokio::select! {
        biased;
        v = verdict => match v {
            Ok(Ok(())) => {}
            Ok(Err((class, why))) => return text(status_of(class), &format!("seqtun-client: {why}")),
            Err(_) => return text(StatusCode::BAD_GATEWAY, "seqtun-client: the session ended before the node answered"),
        },
        resp = &mut sent => return forward(resp),
    }
    forward(sent.await)
}

fn forward(resp: hyper::Result<Response<Incoming>>) -> Response<Body> {
    match resp {
        Ok(resp) => resp.map(Either::Left),
        Err(e) => text(
            StatusCode::BAD_GATEWAY,
            &format!("seqtun-client: the origin's answer broke off: {e}"),
        ),
    }
}

fn status_of(class: FailureClass) -> StatusCode {
    StatusCode::from_u16(class.http_status()).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// The request as the origin expects it: origin-form target, `Host` set, proxy and hop
/// headers removed.
fn origin_form(req: Request<Incoming>, target: &Target) -> Request<Incoming> {
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
    for h in HOP_HEADERS {
        parts.headers.remove(HeaderName::from_static(h));
    }
    if !parts.headers.contains_key(HOST) {
        let host = if target.port == 80 {
            target.host.clone()
        } else {
            format!("{}:{}", target.host, target.port)
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            parts.headers.insert(HOST, v);
        }
    }
    Request::from_parts(parts, body)
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut resp = Response::new(Either::Right(Full::new(Bytes::from(format!("{body}\n")))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Two connected loopback sockets.
async fn socket_pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (a, (b, _)) = (a?, b?);
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_targets() {
        let t = |u: &str| target_of(&u.parse().unwrap());
        assert_eq!(
            t("http://example.com/x?y").unwrap(),
            Target {
                host: "example.com".into(),
                port: 80
            }
        );
        assert_eq!(t("http://[::1]:8080/").unwrap().host, "::1");
        assert!(t("https://example.com/").unwrap_err().contains("CONNECT"));
        assert!(t("/just/a/path").unwrap_err().contains("absolute"));
    }
}
