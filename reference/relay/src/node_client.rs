//! The relay's `UrlFetchApp`: one POST to the node, with its timeout and response cap.
//!
//! Failures are reported as the exception text Apps Script would throw, because the relay
//! script turns any exception into the decoy (or, when diagnosing, into `e`), and a user
//! reading a diagnostic reply should see what the real service would have said.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What the node answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReply {
    pub status: u16,
    /// At most the response cap; longer bodies are cut there.
    pub body: Bytes,
    pub truncated: bool,
}

/// A fetch that threw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("Exception: Timeout: {0}")]
    Timeout(String),
    #[error("Exception: Request failed for {url}: {detail}")]
    Failed { url: String, detail: String },
}

/// Why a node URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeUrlError {
    #[error(
        "--node {0:?} is not a URL; pass the node's base URL, e.g. http://127.0.0.1:8080 (set --node or TUNNEL_SERVER_URL)"
    )]
    Invalid(String),
    #[error(
        "--node {0:?}: the emulator speaks plain http to the node; use http://, or put the node on loopback"
    )]
    NotHttp(String),
    #[error(
        "--node {0:?} names the node's endpoint, not its base URL: drop the /tunnel... path (e.g. --node http://127.0.0.1:8080); the relay adds /tunnel/batch itself"
    )]
    EndpointPath(String),
}

/// A client for one node.
#[derive(Clone)]
pub struct NodeClient {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl NodeClient {
    /// `base` is the node's URL without the `/tunnel` path, e.g. `http://127.0.0.1:8080`.
    pub fn new(base: &str) -> Result<Self, NodeUrlError> {
        let base = base.trim_end_matches('/').to_owned();
        if base.ends_with("/tunnel/batch") || base.ends_with("/tunnel") {
            return Err(NodeUrlError::EndpointPath(base));
        }
        let uri: hyper::Uri = format!("{base}/tunnel")
            .parse()
            .map_err(|_| NodeUrlError::Invalid(base.clone()))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(if uri.scheme_str().is_some_and(|s| s != "http") {
                NodeUrlError::NotHttp(base)
            } else {
                NodeUrlError::Invalid(base)
            });
        }
        // Idle pooled connections go before the node closes them (its idle timeout is 75 s).
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build_http();
        Ok(Self { base, http })
    }

    /// POSTs `body` as JSON to `<base><path>` and reads at most `cap` bytes of the answer.
    pub async fn post(
        &self,
        path: &str,
        body: String,
        cap: usize,
        timeout: Duration,
    ) -> Result<NodeReply, FetchError> {
        let url = format!("{}{path}", self.base);
        match tokio::time::timeout(timeout, self.post_inner(&url, body, cap)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(url)),
        }
    }

    async fn post_inner(
        &self,
        url: &str,
        body: String,
        cap: usize,
    ) -> Result<NodeReply, FetchError> {
        let failed = |detail: String| FetchError::Failed {
            url: url.to_owned(),
            detail,
        };
        let req = Request::post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                "Mozilla/5.0 (compatible; Google-Apps-Script; seqtun-relay)",
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(e.to_string()))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut buf = BytesMut::new();
        let mut truncated = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| failed(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let room = cap - buf.len();
            if data.len() > room {
                buf.extend_from_slice(&data[..room]);
                truncated = true;
                // Stop reading: the rest would only be thrown away, and dropping the body
                // closes the connection so the node stops sending.
                break;
            }
            buf.extend_from_slice(&data);
        }
        Ok(NodeReply {
            status,
            body: buf.freeze(),
            truncated,
        })
    }
}

/// An error and its causes on one line (hyper's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls() {
        assert!(NodeClient::new("http://127.0.0.1:8080").is_ok());
        assert!(NodeClient::new("http://127.0.0.1:8080/").is_ok());
        assert!(NodeClient::new("http://[::1]:8080/prefix").is_ok());
        assert!(matches!(
            NodeClient::new("https://node.example"),
            Err(NodeUrlError::NotHttp(_))
        ));
        assert!(matches!(
            NodeClient::new("127.0.0.1:8080"),
            Err(NodeUrlError::Invalid(_))
        ));
        for endpoint in [
            "http://127.0.0.1:8080/tunnel/batch",
            "http://h/tunnel/",
            "http://h/p/tunnel",
        ] {
            let err = NodeClient::new(endpoint).err().unwrap();
            assert!(matches!(err, NodeUrlError::EndpointPath(_)), "{endpoint}");
            assert!(
                err.to_string().contains("--node http://127.0.0.1:8080"),
                "{err}"
            );
        }
        assert!(matches!(
            NodeClient::new("not a url"),
            Err(NodeUrlError::Invalid(_))
        ));
    }
}
