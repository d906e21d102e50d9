//! The runner's HTTP side: POSTs exactly the bytes a vector describes, follows the redirect
//! Apps Script answers with, undoes gzip, and renders every exchange as a `curl` command so a
//! failure can be replayed by hand.
//!
//! The target may be broken or hostile, so every reply is bounded twice: in time (the whole
//! exchange, body included, within the request timeout) and in size (the body, and again its
//! gzip inflation, at most `max_body` bytes). A target answering 1 GiB, an endless chunked
//! body or a gzip bomb gets an error, not the runner's memory.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::Request;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How many redirects a relay exchange may take (PROTOCOL.md §1.5).
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL {0}: {1}")]
    Url(String, String),
    #[error("request to {0} failed: {1}")]
    Transport(String, String),
    #[error(
        "no reply from {0} within {1:?} (raise --request-timeout if the target is slow on purpose)"
    )]
    Timeout(String, Duration),
    #[error("more than {MAX_REDIRECTS} redirects from {0}")]
    Redirects(String),
    #[error(
        "the reply from {0} is over {1} bytes{2} (the runner reads at most --max-read-bytes; raise it if the target is right to answer that much)"
    )]
    TooLarge(String, usize, &'static str),
}

/// Why a gzip body could not be inflated.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    #[error("gzip: {0}")]
    Corrupt(std::io::Error),
    #[error("gzip inflates to more than {0} bytes")]
    TooLarge(usize),
}

/// Inflates a gzip body, reading at most `max` inflated bytes (a 3 MiB gzip bomb inflates to
/// gigabytes).
pub fn gunzip(bytes: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(InflateError::Corrupt)?;
    if out.len() > max {
        return Err(InflateError::TooLarge(max));
    }
    Ok(out)
}

/// One request and its reply.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub url: String,
    pub request: Vec<u8>,
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Exchange {
    /// The reply as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A shell command that sends the same request.
    pub fn curl(&self) -> String {
        if self.method == "GET" {
            return format!("curl -sS -i '{}'", self.url);
        }
        let printable = std::str::from_utf8(&self.request)
            .ok()
            .filter(|s| !s.contains('\''));
        match printable {
            Some(text) => format!(
                "curl -sS -i -L -X POST '{}' -H 'content-type: application/json' --data-binary '{}'",
                self.url, text
            ),
            None => {
                let hex: String = self.request.iter().map(|b| format!("\\x{b:02x}")).collect();
                format!(
                    "printf '{hex}' | curl -sS -i -L -X POST '{}' -H 'content-type: application/json' --data-binary @-",
                    self.url
                )
            }
        }
    }
}

#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl Http {
    pub fn new(timeout: Duration) -> Self {
        Self::with_limits(timeout, crate::limits::max_read())
    }

    /// A client whose exchanges end after `timeout` and read at most `max_body` reply bytes.
    pub fn with_limits(timeout: Duration, max_body: usize) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            client,
            timeout,
            max_body,
        }
    }

    /// The same client with a shorter timeout (never a longer one).
    pub fn at_most(&self, timeout: Duration) -> Self {
        Self {
            timeout: self.timeout.min(timeout),
            ..self.clone()
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn post(&self, url: &str, body: Vec<u8>) -> Result<Exchange, HttpError> {
        self.exchange("POST", url, body).await
    }

    pub async fn get(&self, url: &str) -> Result<Exchange, HttpError> {
        self.exchange("GET", url, Vec::new()).await
    }

    async fn exchange(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<Exchange, HttpError> {
        let started = Instant::now();
        let work = async {
            let mut target = url.to_string();
            let mut verb = method;
            let mut payload = body.clone();
            for _ in 0..=MAX_REDIRECTS {
                let uri: hyper::Uri =
                    target.parse().map_err(|e: hyper::http::uri::InvalidUri| {
                        HttpError::Url(target.clone(), e.to_string())
                    })?;
                let mut req = Request::builder()
                    .method(verb)
                    .uri(uri.clone())
                    .header("accept-encoding", "gzip");
                if verb == "POST" {
                    req = req.header(CONTENT_TYPE, "application/json");
                }
                let req = req
                    .body(Full::new(Bytes::from(payload.clone())))
                    .map_err(|e| HttpError::Url(target.clone(), e.to_string()))?;
                let resp = self
                    .client
                    .request(req)
                    .await
                    .map_err(|e| HttpError::Transport(target.clone(), e.to_string()))?;
                let status = resp.status();
                if status.is_redirection()
                    && let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok())
                {
                    target = resolve(&uri, loc);
                    verb = "GET";
                    payload = Vec::new();
                    continue;
                }
                let (content_type, body) = self.read(resp, &target).await?;
                return Ok((status.as_u16(), content_type, body));
            }
            Err(HttpError::Redirects(url.to_string()))
        };
        let (status, content_type, reply) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| HttpError::Timeout(url.to_string(), self.timeout))??;
        Ok(Exchange {
            method,
            url: url.to_string(),
            request: body,
            status,
            content_type,
            body: reply,
            elapsed: started.elapsed(),
        })
    }

    /// The reply's content type and body, read within the size budget and inflated (within it
    /// again) when gzip.
    async fn read(
        &self,
        resp: hyper::Response<hyper::body::Incoming>,
        target: &str,
    ) -> Result<(String, Vec<u8>), HttpError> {
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header(CONTENT_TYPE);
        let gz = header(CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
        let raw = Limited::new(resp.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    HttpError::TooLarge(target.to_string(), self.max_body, "")
                } else {
                    HttpError::Transport(target.to_string(), e.to_string())
                }
            })?
            .to_bytes();
        if !gz {
            return Ok((content_type, raw.to_vec()));
        }
        let body = gunzip(&raw, self.max_body).map_err(|e| match e {
            InflateError::TooLarge(n) => {
                HttpError::TooLarge(target.to_string(), n, " once inflated")
            }
            InflateError::Corrupt(e) => {
                HttpError::Transport(target.to_string(), format!("gzip: {e}"))
            }
        })?;
        Ok((content_type, body))
    }
}

fn resolve(base: &hyper::Uri, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let scheme = base.scheme_str().unwrap_or("http");
    format!("{scheme}://{authority}{location}")
}

/// gzips a request body.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_for_text_and_binary_bodies() {
        let mut ex = Exchange {
            method: "POST",
            url: "http://127.0.0.1:1/tunnel/batch".into(),
            request: br#"{"k":"K","ops":[]}"#.to_vec(),
            status: 200,
            content_type: String::new(),
            body: Vec::new(),
            elapsed: Duration::ZERO,
        };
        assert_eq!(
            ex.curl(),
            r#"curl -sS -i -L -X POST 'http://127.0.0.1:1/tunnel/batch' -H 'content-type: application/json' --data-binary '{"k":"K","ops":[]}'"#
        );
        ex.request = vec![0x1f, 0x8b];
        assert!(ex.curl().starts_with(r"printf '\x1f\x8b' | curl"));
    }

    #[test]
    fn gzip_inflation_stops_at_the_limit() {
        let zeros = gzip(&vec![0u8; 1 << 20]);
        assert_eq!(gunzip(&zeros, 1 << 20).unwrap().len(), 1 << 20);
        assert!(matches!(
            gunzip(&zeros, (1 << 20) - 1),
            Err(InflateError::TooLarge(_))
        ));
        assert!(matches!(gunzip(b"nope", 10), Err(InflateError::Corrupt(_))));
    }

    #[test]
    fn relative_redirects_resolve_against_the_request() {
        let base: hyper::Uri = "http://127.0.0.1:9/macros/s/x/exec".parse().unwrap();
        assert_eq!(
            resolve(&base, "/macros/echo?id=1"),
            "http://127.0.0.1:9/macros/echo?id=1"
        );
        assert_eq!(resolve(&base, "http://h/x"), "http://h/x");
    }
}
