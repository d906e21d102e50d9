//! Carrying one batch to one relay and back (§1.1, §1.5).
//!
//! A node URL gets the inner dialect; an Apps Script URL gets the outer one and the Apps Script
//! treatment: redirects re-issued as `GET`, gzip, HTML around the JSON, the decoy page. The same
//! reading path serves both, because none of it hurts on a plain node.

pub mod connector;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{ACCEPT_ENCODING, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use seqtun_wire::client::params::MAX_REDIRECTS;
use seqtun_wire::client::relay_body::{RelayError, is_redirect, parse_reply_body};
use seqtun_wire::{BatchOp, BatchRequestRef, BatchResponse};

use crate::config::{RelayKind, RelaySpec};
use connector::FrontConnector;

/// Why a batch got no readable answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No connection (the connector's text says which address it dialled, and why).
    #[error("cannot reach relay {url}: {detail}")]
    Connect { url: String, detail: String },
    /// Connected, but the exchange broke: the relay closed or reset the connection before
    /// its answer was complete.
    #[error("relay {url} closed the connection mid-reply: {detail}")]
    MidReply { url: String, detail: String },
    #[error("cannot build the request to relay {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("batch timed out after {0:?} (raise --request-timeout-secs if the relay is slow)")]
    Timeout(std::time::Duration),
    #[error("relay {url}: {source}")]
    Relay { url: String, source: RelayError },
    #[error("relay {url}: more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects { url: String },
    #[error("relay {url}: a redirect without a usable Location")]
    BadRedirect { url: String },
}

/// One relay's HTTP side.
pub struct Transport {
    pub spec: RelaySpec,
    key: String,
    http: Client<FrontConnector, Full<Bytes>>,
    max_reply: usize,
}

impl Transport {
    pub fn new(
        spec: RelaySpec,
        key: &str,
        connector: FrontConnector,
        max_reply: usize,
    ) -> Arc<Self> {
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build(connector);
        Arc::new(Self {
            spec,
            key: key.to_string(),
            http,
            max_reply,
        })
    }

    fn mid_reply(&self, e: impl std::fmt::Display) -> TransportError {
        TransportError::MidReply {
            url: self.spec.url.clone(),
            detail: e.to_string(),
        }
    }

    /// The JSON body of a batch in this relay's dialect.
    pub fn body(&self, ops: &[BatchOp]) -> Vec<u8> {
        let req = BatchRequestRef {
            k: &self.key,
            t: match self.spec.kind {
                RelayKind::Direct => None,
                RelayKind::AppsScript => Some("batch"),
            },
            ops,
        };
        // The same bytes as serde_json, without its per-byte escape checks over the base64.
        seqtun_wire::encode::request_body(&req)
    }

    /// POSTs a batch body and reads the answer, following redirects as `GET`.
    pub async fn send(&self, body: Vec<u8>) -> Result<BatchResponse, TransportError> {
        let mut uri = self.spec.endpoint.clone();
        let mut resp = self.request(Method::POST, &uri, Bytes::from(body)).await?;
        let mut hops = 0;
        while is_redirect(resp.status().as_u16()) {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(TransportError::TooManyRedirects {
                    url: self.spec.url.clone(),
                });
            }
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| resolve(&uri, loc))
                .ok_or_else(|| TransportError::BadRedirect {
                    url: self.spec.url.clone(),
                })?;
            uri = location;
            resp = self.request(Method::GET, &uri, Bytes::new()).await?;
        }
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), self.max_reply)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    TransportError::Relay {
                        url: self.spec.url.clone(),
                        source: RelayError::TooLarge {
                            limit: self.max_reply,
                        },
                    }
                } else {
                    self.mid_reply(error_chain(e.as_ref()))
                }
            })?
            .to_bytes();
        parse_reply_body(status, &body, self.max_reply).map_err(|source| TransportError::Relay {
            url: self.spec.url.clone(),
            source,
        })
    }

    async fn request(
        &self,
        method: Method,
        uri: &Uri,
        body: Bytes,
    ) -> Result<hyper::Response<hyper::body::Incoming>, TransportError> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .header(ACCEPT_ENCODING, "gzip");
        if method == Method::POST {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| TransportError::Request {
                url: self.spec.url.clone(),
                detail: e.to_string(),
            })?;
        self.http.request(req).await.map_err(|e| {
            if e.is_connect() {
                TransportError::Connect {
                    url: self.spec.url.clone(),
                    // hyper-util's own text ("client error (Connect)") adds nothing.
                    detail: std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), error_chain),
                }
            } else {
                self.mid_reply(error_chain(&e))
            }
        })
    }
}

/// hyper-util's errors say "client error (Connect)"; the cause is in the source chain.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// The absolute URI a `Location` header points to, relative to `base`.
pub fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let loc: Uri = location.parse().ok()?;
    if loc.scheme().is_some() && loc.authority().is_some() {
        return Some(loc);
    }
    if !location.starts_with('/') {
        return None;
    }
    Uri::builder()
        .scheme(base.scheme_str()?)
        .authority(base.authority()?.clone())
        .path_and_query(location)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request() {
        let base: Uri = "https://script.google.com/macros/s/x/exec".parse().unwrap();
        assert_eq!(
            resolve(
                &base,
                "https://script.googleusercontent.com/macros/echo?user_content_key=a"
            )
            .unwrap(),
            "https://script.googleusercontent.com/macros/echo?user_content_key=a"
        );
        assert_eq!(
            resolve(&base, "/once/1").unwrap(),
            "https://script.google.com/once/1"
        );
        assert_eq!(resolve(&base, "relative"), None);
    }
}
