//! The HTTP proxy front end's first look at a request.
//!
//! The request head is parsed with httparse: `CONNECT host:port` becomes a session here, and
//! bytes the app sent after the head (an eager TLS ClientHello) are kept as its first bytes.
//! An absolute-form request (`GET http://host/ HTTP/1.1`) goes to the plain proxy
//! ([`super::plain`], hyper) with the bytes read so far; anything else gets an HTTP error.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::{FrontError, Target};

/// Largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 8 << 10;
const MAX_HEADERS: usize = 64;

/// What the first request on an HTTP proxy connection asks for.
#[derive(Debug)]
pub enum Head {
    /// `CONNECT`: the target and any bytes after the head.
    Connect(Target, Vec<u8>),
    /// An absolute-form request: everything read so far, for hyper to parse again.
    Plain(Vec<u8>),
}

/// Reads the first request head.
pub async fn handshake<S>(s: &mut S) -> Result<Head, FrontError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(FrontError::Protocol(
                "the app closed before finishing its request".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                if req.method != Some("CONNECT")
                    && req.path.is_some_and(|p| p.starts_with("http://"))
                {
                    return Ok(Head::Plain(buf));
                }
                let target = target(req.method, req.path);
                return match target {
                    Ok(t) => Ok(Head::Connect(t, buf[len..].to_vec())),
                    Err((status, why)) => {
                        answer(s, status).await?;
                        Err(FrontError::Protocol(why))
                    }
                };
            }
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) => {
                answer(s, 431).await?;
                return Err(FrontError::Protocol(format!(
                    "request head over {MAX_HEAD_BYTES} bytes"
                )));
            }
            Err(e) => {
                answer(s, 400).await?;
                return Err(FrontError::Protocol(format!("bad HTTP request: {e}")));
            }
        }
    }
}

fn target(method: Option<&str>, path: Option<&str>) -> Result<Target, (u16, String)> {
    if method != Some("CONNECT") {
        return Err((
            405,
            format!(
                "method {method:?} without an absolute http:// URL: this is a proxy (CONNECT, or GET http://host/...)"
            ),
        ));
    }
    let authority = path.unwrap_or_default();
    let bad = || {
        (
            400,
            format!("CONNECT target {authority:?} is not host:port"),
        )
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

/// Answers with `status` and no body.
pub async fn answer<S>(s: &mut S, status: u16) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    answer_with(s, status, "").await
}

/// Answers with `status` and `body` (text) and closes.
pub async fn answer_with<S>(s: &mut S, status: u16, body: &str) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let text = match status {
        200 => "HTTP/1.1 200 Connection Established\r\n\r\n".to_string(),
        _ => {
            let reason = hyper::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            let body = if body.is_empty() {
                String::new()
            } else {
                format!("{body}\n")
            };
            format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    };
    s.write_all(text.as_bytes()).await?;
    s.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(input: &[u8]) -> (Result<(Target, Vec<u8>), FrontError>, Vec<u8>) {
        let (r, out) = run_head(input).await;
        let r = r.map(|h| match h {
            Head::Connect(t, early) => (t, early),
            Head::Plain(_) => panic!("plain"),
        });
        (r, out)
    }

    async fn run_head(input: &[u8]) -> (Result<Head, FrontError>, Vec<u8>) {
        let (mut app, mut srv) = tokio::io::duplex(64 << 10);
        app.write_all(input).await.unwrap();
        let res = handshake(&mut srv).await;
        drop(srv);
        let mut out = Vec::new();
        app.read_to_end(&mut out).await.unwrap();
        (res, out)
    }

    #[tokio::test]
    async fn connect_targets_and_early_bytes() {
        let (r, _) =
            run(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nHELLO").await;
        let (t, early) = r.unwrap();
        assert_eq!(
            t,
            Target {
                host: "example.com".into(),
                port: 443
            }
        );
        assert_eq!(early, b"HELLO");
        let (r, _) = run(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n").await;
        assert_eq!(r.unwrap().0.host, "::1");
    }

    #[tokio::test]
    async fn other_requests_get_http_errors_and_absolute_form_goes_to_the_plain_proxy() {
        let req = b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n";
        let (r, out) = run_head(req).await;
        assert!(
            matches!(r, Ok(Head::Plain(ref head)) if head == req),
            "{r:?}"
        );
        assert!(out.is_empty());
        let (r, out) = run(b"GET / HTTP/1.1\r\n\r\n").await;
        assert!(r.is_err());
        assert!(
            out.starts_with(b"HTTP/1.1 405"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let (r, out) = run(b"CONNECT nohost HTTP/1.1\r\n\r\n").await;
        assert!(r.is_err());
        assert!(out.starts_with(b"HTTP/1.1 400"));
        let (r, out) = run(b"\x16\x03\x01garbage\r\n\r\n").await;
        assert!(r.is_err());
        assert!(out.starts_with(b"HTTP/1.1 400"));
    }

    #[tokio::test]
    async fn the_head_limit_is_enforced_at_its_edge() {
        let mut fits = b"CONNECT h:1 HTTP/1.1\r\nX: ".to_vec();
        fits.resize(MAX_HEAD_BYTES - 4, b'a');
        fits.extend(b"\r\n\r\n");
        assert_eq!(fits.len(), MAX_HEAD_BYTES);
        assert!(run(&fits).await.0.is_ok());
        let mut over = b"CONNECT h:1 HTTP/1.1\r\nX: ".to_vec();
        over.resize(MAX_HEAD_BYTES + 1024, b'a');
        let (r, out) = run(&over).await;
        assert!(r.is_err());
        assert!(
            out.starts_with(b"HTTP/1.1 431"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
}
