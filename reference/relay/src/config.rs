//! What a running relay needs to know, however it was started (CLI, tests, benches, the
//! conformance runner).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use seqtun_runtime::conn::ConnLimits;

use crate::faults::{FaultPlan, PlanError};
use crate::limits::{self, Limits};
use crate::node_client::NodeUrlError;

/// Settings of one relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The node's base URL, e.g. `http://127.0.0.1:8080`.
    pub node_url: String,
    /// Sent to the node as the inner `k`.
    pub node_key: String,
    /// Expected from clients as the outer `k`.
    pub relay_key: String,
    /// JSON errors instead of the decoy page.
    pub diagnostic: bool,
    /// Answer POSTs with a 302 to a one-time GET URL, as script.google.com does.
    pub redirect: bool,
    /// The batch path drops op fields an old relay does not know (`seq`, `wseq`, ...).
    pub strip_unknown_fields: bool,
    /// Limits of every deployment not listed in `deployment_limits`.
    pub limits: Limits,
    pub deployment_limits: BTreeMap<String, Limits>,
    pub max_request_bytes: usize,
    /// Most request-body bytes held at once across all calls.
    pub max_body_memory_bytes: usize,
    /// Connection caps and timeouts of the listener.
    pub conn: ConnLimits,
    pub fetch_timeout: Duration,
    pub max_deployments: usize,
    /// How long a deployment's daily quota lasts before it refills.
    pub quota_window: Duration,
    /// How long a one-time redirect body waits for its GET.
    pub redirect_ttl: Duration,
    /// Most bytes of unfetched redirect bodies kept.
    pub redirect_store_bytes: usize,
    pub faults: FaultPlan,
}

/// Why a relay refuses to start; each names the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no relay key: pass --key <KEY> or set RELAY_AUTH_KEY (clients send it as the outer k; there is no default key)"
    )]
    MissingRelayKey,
    #[error(
        "no node key: pass --node-key <KEY> or set TUNNEL_AUTH_KEY (the key the node was started with; there is no default key)"
    )]
    MissingNodeKey,
    #[error(transparent)]
    NodeUrl(#[from] NodeUrlError),
    #[error(transparent)]
    Faults(#[from] PlanError),
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("cannot listen on {addr}: {source} (pick another --listen)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl RelayConfig {
    /// A relay on 127.0.0.1:0 with the platform's limits, no latency and no faults.
    pub fn new(
        node_url: impl Into<String>,
        node_key: impl Into<String>,
        relay_key: impl Into<String>,
    ) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            node_url: node_url.into(),
            node_key: node_key.into(),
            relay_key: relay_key.into(),
            diagnostic: false,
            redirect: false,
            strip_unknown_fields: false,
            limits: Limits::default(),
            deployment_limits: BTreeMap::new(),
            max_request_bytes: limits::MAX_REQUEST_BYTES,
            max_body_memory_bytes: limits::MAX_BODY_MEMORY_BYTES,
            conn: ConnLimits::with_defaults(),
            fetch_timeout: limits::FETCH_TIMEOUT,
            max_deployments: limits::MAX_DEPLOYMENTS,
            quota_window: limits::QUOTA_WINDOW,
            redirect_ttl: limits::REDIRECT_TTL,
            redirect_store_bytes: limits::REDIRECT_STORE_BYTES,
            faults: FaultPlan::default(),
        }
    }

    /// The limits of `deployment`.
    pub fn limits_for(&self, deployment: &str) -> &Limits {
        self.deployment_limits
            .get(deployment)
            .unwrap_or(&self.limits)
    }

    /// Everything `spawn` checks before binding.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.relay_key.is_empty() {
            return Err(ConfigError::MissingRelayKey);
        }
        if self.node_key.is_empty() {
            return Err(ConfigError::MissingNodeKey);
        }
        self.faults.validate()?;
        for l in std::iter::once(&self.limits).chain(self.deployment_limits.values()) {
            if l.max_concurrent == 0 {
                return Err(ConfigError::Zero("--max-concurrent"));
            }
            if l.max_response_bytes == 0 {
                return Err(ConfigError::Zero("--max-response-bytes"));
            }
        }
        if self.max_request_bytes == 0 {
            return Err(ConfigError::Zero("--max-request-bytes"));
        }
        if self.max_deployments == 0 {
            return Err(ConfigError::Zero("--max-deployments"));
        }
        if self.fetch_timeout.is_zero() {
            return Err(ConfigError::Zero("--fetch-timeout-ms"));
        }
        if self.quota_window.is_zero() {
            return Err(ConfigError::Zero("--quota-window-secs"));
        }
        if self.redirect_ttl.is_zero() {
            return Err(ConfigError::Zero("--redirect-ttl-ms"));
        }
        if self.redirect_store_bytes == 0 {
            return Err(ConfigError::Zero("--redirect-store-bytes"));
        }
        Ok(())
    }
}
