//! What a running client needs to know, independent of how it was started (CLI, config file,
//! the conformance runner, the relay's end-to-end tests).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hyper::Uri;
use seqtun_wire::client::{ClientFaults, ClientParams};

use crate::error::ConfigError;

/// How long a local connection may take to finish its SOCKS5 / CONNECT handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most local connections tunnelled at once; more are refused (SOCKS5 0x01 / HTTP 503).
pub const MAX_SESSIONS: usize = 4096;
/// How long in-flight batches may take to finish after SIGTERM / Ctrl-C: a local proxy has
/// nothing long to wait for but the closes it sends.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the stats line is logged.
pub const STATS_INTERVAL: Duration = Duration::from_secs(60);

/// Which dialect a relay URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// A node reached directly: inner dialect `{k, ops}` to `<url>/tunnel/batch`.
    Direct,
    /// An Apps Script deployment (or an emulator of one): outer dialect `{k, t:"batch", ops}`.
    AppsScript,
}

/// One relay, from its URL, with what belongs to it alone: its fronting and, for mhrv-rs
/// `account_groups`, its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySpec {
    /// The URL as given.
    pub url: String,
    pub kind: RelayKind,
    /// Where batches are POSTed.
    pub endpoint: Uri,
    /// The key this relay checks; `None`: the client's key.
    pub key: Option<String>,
    /// Domain fronting: dial this address instead of resolving the URL's host.
    pub front: Option<IpAddr>,
    /// TLS server name to send and verify instead of the URL's host.
    pub sni: Option<String>,
}

impl RelaySpec {
    /// Reads a relay URL: no path is a node, `/macros/s/<id>/exec` is an Apps Script deployment.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::BadUrl {
            url: url.to_string(),
            why: why.to_string(),
        };
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => return Err(bad(&format!("scheme {other} is not http or https"))),
            None => return Err(bad("no scheme")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?.clone();
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        let path = uri.path().trim_end_matches('/');
        let (kind, path) = if path.is_empty() {
            (RelayKind::Direct, "/tunnel/batch".to_string())
        } else if is_apps_script_path(path) {
            (RelayKind::AppsScript, path.to_string())
        } else {
            return Err(ConfigError::UnknownRelayForm {
                url: url.to_string(),
            });
        };
        let endpoint = Uri::builder()
            .scheme(uri.scheme_str().unwrap_or("http"))
            .authority(authority)
            .path_and_query(path)
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            url: url.trim().to_string(),
            kind,
            endpoint,
            key: None,
            front: None,
            sni: None,
        })
    }

    /// The Apps Script URL of a deployment id.
    pub fn apps_script(id: &str) -> Result<Self, ConfigError> {
        Self::parse(&format!("https://script.google.com/macros/s/{id}/exec"))
    }
}

fn is_apps_script_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(parts.as_slice(), ["", "macros", "s", id, "exec"] if !id.is_empty())
}

/// Settings of one client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// SOCKS5 listener (port 0 picks one).
    pub socks: Option<SocketAddr>,
    /// HTTP CONNECT listener.
    pub http: Option<SocketAddr>,
    pub relays: Vec<RelaySpec>,
    /// The key the first hop checks (`k`), for relays without a key of their own.
    pub key: String,
    /// Extra PEM roots to trust (tests, private relays).
    pub ca_file: Option<PathBuf>,
    /// RFC 1929 username/password the SOCKS5 front end requires; none: no authentication.
    pub socks_auth: Option<(String, String)>,
    pub params: ClientParams,
    pub handshake_timeout: Duration,
    pub max_sessions: usize,
    /// Period of the stats line; `None` silences it (`--quiet`).
    pub stats_interval: Option<Duration>,
    /// Where `/stats` and `/metrics` are served (`--metrics`); none: not served.
    pub metrics: Option<SocketAddr>,
    /// How long a graceful shutdown lets in-flight batches finish.
    pub shutdown_grace: Duration,
    /// Deliberate protocol faults; only the conformance suite's mutant check sets them.
    pub faults: ClientFaults,
}

impl ClientConfig {
    /// The key `relay` is sent.
    pub fn key_for<'a>(&'a self, relay: &'a RelaySpec) -> &'a str {
        relay.key.as_deref().unwrap_or(&self.key)
    }

    /// A client of `relays` with `key`, default limits and no listeners yet.
    pub fn new(relays: Vec<RelaySpec>, key: impl Into<String>) -> Self {
        Self {
            socks: None,
            http: None,
            relays,
            key: key.into(),
            ca_file: None,
            socks_auth: None,
            params: ClientParams::default(),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            max_sessions: MAX_SESSIONS,
            stats_interval: Some(STATS_INTERVAL),
            metrics: None,
            shutdown_grace: SHUTDOWN_GRACE,
            faults: ClientFaults::default(),
        }
    }

    /// Checks what can be checked before binding anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.relays.is_empty() {
            return Err(ConfigError::NoRelay);
        }
        if self.key.is_empty() {
            match self.relays.iter().find(|r| r.key.is_none()) {
                Some(r) if self.relays.iter().any(|r| r.key.is_some()) => {
                    return Err(ConfigError::MissingRelayKey { url: r.url.clone() });
                }
                Some(_) => return Err(ConfigError::MissingKey),
                None => {}
            }
        }
        if self.socks.is_none() && self.http.is_none() {
            return Err(ConfigError::NoListener);
        }
        if let Some((user, pass)) = &self.socks_auth {
            let ok = |s: &str| (1..=255).contains(&s.len());
            if !ok(user) || !ok(pass) {
                return Err(ConfigError::SocksAuth);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_path_is_a_node() {
        let r = RelaySpec::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(r.kind, RelayKind::Direct);
        assert_eq!(r.endpoint, "http://127.0.0.1:8080/tunnel/batch");
        let r = RelaySpec::parse("https://node.example/").unwrap();
        assert_eq!(r.endpoint, "https://node.example/tunnel/batch");
    }

    #[test]
    fn a_macros_path_is_apps_script() {
        let r = RelaySpec::parse("https://script.google.com/macros/s/AKfy-x_1/exec").unwrap();
        assert_eq!(r.kind, RelayKind::AppsScript);
        assert_eq!(
            r.endpoint,
            "https://script.google.com/macros/s/AKfy-x_1/exec"
        );
        let r = RelaySpec::parse("http://127.0.0.1:9/macros/s/dep1/exec").unwrap();
        assert_eq!(r.kind, RelayKind::AppsScript);
    }

    #[test]
    fn other_forms_are_refused_with_the_fix() {
        for url in [
            "http://h/tunnel",
            "http://h/macros/s//exec",
            "http://h/macros/s/x",
        ] {
            let err = RelaySpec::parse(url).unwrap_err();
            assert!(
                matches!(err, ConfigError::UnknownRelayForm { .. }),
                "{url}: {err}"
            );
            assert!(err.to_string().contains("/macros/s/ID/exec"));
        }
        for url in ["ftp://h", "h:80", "http://", "not a url", "http://h/?q=1"] {
            assert!(
                matches!(RelaySpec::parse(url), Err(ConfigError::BadUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn validation_names_what_is_missing() {
        let relay = RelaySpec::parse("http://127.0.0.1:1").unwrap();
        let mut c = ClientConfig::new(vec![], "k");
        c.socks = Some("127.0.0.1:0".parse().unwrap());
        assert!(matches!(c.validate(), Err(ConfigError::NoRelay)));
        c.relays = vec![relay];
        c.key.clear();
        assert!(c.validate().unwrap_err().to_string().contains("--key"));
        c.key = "k".into();
        c.socks = None;
        assert!(matches!(c.validate(), Err(ConfigError::NoListener)));
        c.http = Some("127.0.0.1:0".parse().unwrap());
        c.socks_auth = Some(("u".into(), String::new()));
        assert!(matches!(c.validate(), Err(ConfigError::SocksAuth)));
        c.socks_auth = Some(("u".into(), "p".repeat(255)));
        assert!(c.validate().is_ok());
        c.socks_auth = Some(("u".into(), "p".repeat(256)));
        assert!(c.validate().is_err());
    }
}
