//! One column of a table: the node under test, an in-process `seqtun-relay` with latency R
//! (or none: the client straight at the node), and an in-process `seqtun-client` with a SOCKS5
//! listener, set up for one mode and one regime.

use std::net::SocketAddr;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientHandle, RelaySpec};
use seqtun_relay::{FaultPlan, RelayConfig, RelayHandle};
use tokio::runtime::Runtime;

use crate::mode::Mode;
use crate::node::{Node, NodeSetup};
use crate::settings::{RELAY_KEY, Settings};

/// The seed of the relay's fault draws: every column meets the same sequence of faults.
pub const FAULT_SEED: u64 = 20_261_207;

/// The deployment id every client batch goes to.
pub const DEPLOYMENT: &str = "bench";

/// The relay hop of one regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// `seqtun-relay` with this latency and per-call bandwidth (kbit/s, 0 unlimited), losing
    /// this many replies in a thousand calls (its seeded `drop_reply` fault: the node ran the
    /// batch, the client never hears of it).
    Relay {
        latency: Duration,
        bandwidth_kbps: u64,
        drop_reply_permille: u32,
    },
    /// No relay: the client posts straight to the node.
    Direct,
}

/// Everything a column differs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub mode: Mode,
    pub hop: Hop,
    pub node: NodeSetup,
}

/// A running column.
pub struct Stack {
    pub spec: Spec,
    pub node: Node,
    relay: Option<RelayHandle>,
    client: Option<ClientHandle>,
    pub socks: SocketAddr,
}

/// Why a column could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("node: {0}")]
    Node(std::io::Error),
    #[error("relay: {0}")]
    Relay(String),
    #[error("client: {0}")]
    Client(String),
}

impl Stack {
    /// Starts node (unless external), relay and client for `spec` on `rt`.
    pub fn start(rt: &Runtime, settings: &Settings, spec: Spec) -> Result<Self, StackError> {
        let node = match &settings.external {
            Some(ext) => Node::external(ext),
            None => {
                Node::start(spec.mode, &settings.timing(), spec.node).map_err(StackError::Node)?
            }
        };
        let (relay, url) = match spec.hop {
            Hop::Relay {
                latency,
                bandwidth_kbps,
                drop_reply_permille,
            } => {
                let mut rcfg = RelayConfig::new(node.url(), node.key(), RELAY_KEY);
                rcfg.limits.latency = latency;
                rcfg.limits.jitter = settings.jitter;
                rcfg.limits.bandwidth_kbps = bandwidth_kbps;
                rcfg.faults = FaultPlan::new(FAULT_SEED);
                rcfg.faults.rates.drop_reply = f64::from(drop_reply_permille) / 1000.0;
                let relay = rt
                    .block_on(seqtun_relay::spawn(rcfg))
                    .map_err(|e| StackError::Relay(e.to_string()))?;
                let url = relay.url_for(DEPLOYMENT);
                (Some(relay), url)
            }
            Hop::Direct => (None, node.url()),
        };
        let spec_url = RelaySpec::parse(&url).map_err(|e| StackError::Client(e.to_string()))?;
        let key = if relay.is_some() {
            RELAY_KEY.to_owned()
        } else {
            node.key()
        };
        let mut ccfg = ClientConfig::new(vec![spec_url], key);
        ccfg.socks = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        ccfg.stats_interval = None;
        spec.mode.client(&mut ccfg.params);
        let client = rt
            .block_on(seqtun_client::spawn(ccfg))
            .map_err(|e| StackError::Client(e.to_string()))?;
        let socks = client
            .socks
            .ok_or_else(|| StackError::Client("no SOCKS5 listener".into()))?;
        Ok(Self {
            spec,
            node,
            relay,
            client: Some(client),
            socks,
        })
    }

    /// Relay calls so far: POSTs the relay received, or batches the client sent when it posts
    /// straight to the node.
    pub fn relay_calls(&self) -> u64 {
        match (&self.relay, &self.client) {
            (Some(relay), _) => relay.stats().deployment(DEPLOYMENT).calls,
            (None, Some(client)) => client.stats.snapshot().batches,
            (None, None) => 0,
        }
    }

    /// Stops client, relay and (in-process) node.
    pub fn stop(mut self, rt: &Runtime) {
        if let Some(client) = self.client.take() {
            rt.block_on(client.shutdown());
        }
        if let Some(relay) = self.relay.take() {
            rt.block_on(relay.shutdown());
        }
        self.node.stop();
    }
}
