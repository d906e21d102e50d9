//! One cell: a fresh origin, node, tap, relay and client on loopback, one exchange, then
//! everything stopped again.
//!
//! Every cell gets its own processes' worth of state, because the reference client learns
//! sticky facts (a missing echo disables pipelining until restart, §7.8): a cell that shared a
//! client with another would report what the previous cell taught it.

use std::net::SocketAddr;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientFaults, ClientHandle, RelaySpec};
use seqtun_node::{Faults, NodeHandle};
use seqtun_relay::{RelayConfig, RelayHandle};
use serde::Serialize;

use super::exchange::{self, Delivery};
use super::tap::Tap;
use super::wire::{Wire, WireFacts};
use crate::builtin::{KEY, node_config};
use crate::case::{UpstreamKind, UpstreamSpec};
use crate::expr::Params;
use crate::fixtures::TcpFixture;

/// The relay's own key (the node key is [`KEY`]).
pub const RELAY_KEY: &str = "seqtun-conformance-relay";
/// The deployment id the client is given.
pub const DEPLOYMENT: &str = "dep1";
/// How long stopping a cell's pieces may take before they are left to the runtime.
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// A matrix row: how the reference client is configured to play a dialect.
#[derive(Debug, Clone)]
pub struct ClientSide {
    pub label: String,
    pub no_pipelining: bool,
    pub faults: ClientFaults,
    /// A plain seqtun build: every cell between two required sides must work.
    pub required: bool,
}

/// A matrix column: how the reference node is configured to play a dialect.
#[derive(Debug, Clone)]
pub struct NodeSide {
    pub label: String,
    pub legacy: bool,
    pub faults: Faults,
    pub required: bool,
}

/// What one cell saw.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub client: String,
    pub node: String,
    pub required: bool,
    pub wire: Wire,
    pub facts: WireFacts,
    pub delivery: Delivery,
}

impl Cell {
    /// A required cell whose bytes did not arrive exactly.
    pub fn broken(&self) -> bool {
        self.required && !self.delivery.is_ok()
    }
}

/// Most app bytes one `data` op carries in a cell: small enough that the bulk transfer takes
/// a few dozen ops, so a pipelined session really has several in flight.
pub const CELL_OP_BYTES: usize = 16 * 1024;

/// Client settings that keep a cell quick: batches fire within milliseconds, and a lost reply
/// ends the session long before the cell's own bound.
fn client_config(relay_url: &str, side: &ClientSide) -> Result<ClientConfig, String> {
    let spec = RelaySpec::parse(relay_url).map_err(|e| e.to_string())?;
    let mut cfg = ClientConfig::new(vec![spec], RELAY_KEY);
    cfg.socks = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    cfg.stats_interval = None;
    cfg.faults = side.faults.clone();
    let p = &mut cfg.params;
    p.no_pipelining = side.no_pipelining;
    p.coalesce_step = Duration::from_millis(2);
    p.coalesce_max = Duration::from_millis(10);
    p.request_timeout = Duration::from_secs(5);
    p.legacy_reply_timeout = Duration::from_secs(5);
    p.max_data_op_bytes = CELL_OP_BYTES;
    Ok(cfg)
}

/// Whatever of a cell has started, so it can be stopped however far setup got.
#[derive(Default)]
struct Rig {
    origin: Option<TcpFixture>,
    node: Option<NodeHandle>,
    tap: Option<Tap>,
    relay: Option<RelayHandle>,
    client: Option<ClientHandle>,
}

impl Rig {
    async fn start(
        &mut self,
        params: &Params,
        row: &ClientSide,
        col: &NodeSide,
    ) -> Result<SocketAddr, String> {
        let spec = UpstreamSpec {
            name: "origin".into(),
            kind: UpstreamKind::Echo,
            bytes: None,
            close: None,
            script: Vec::new(),
        };
        let origin = TcpFixture::start(&spec, [127, 0, 0, 1].into(), params)
            .await
            .map_err(|e| format!("origin: {e}"))?;
        self.origin = Some(origin);
        let mut cfg = node_config(params, col.legacy, false);
        cfg.faults = col.faults.clone();
        let node = seqtun_node::spawn(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("node: {e}"))?;
        let tap = Tap::start(&node.url())
            .await
            .map_err(|e| format!("tap: {e}"))?;
        self.node = Some(node);
        let relay = seqtun_relay::spawn(RelayConfig::new(tap.url(), KEY, RELAY_KEY))
            .await
            .map_err(|e| format!("relay: {e}"))?;
        self.tap = Some(tap);
        let cfg = client_config(&relay.url_for(DEPLOYMENT), row)?;
        self.relay = Some(relay);
        let client = seqtun_client::spawn(cfg)
            .await
            .map_err(|e| format!("client: {e}"))?;
        let socks = client.socks.ok_or("the client has no SOCKS5 listener")?;
        self.client = Some(client);
        Ok(socks)
    }

    async fn stop(&mut self) {
        let all = async {
            if let Some(c) = self.client.take() {
                c.shutdown().await;
            }
            if let Some(r) = self.relay.take() {
                r.shutdown().await;
            }
            if let Some(n) = self.node.take() {
                n.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(STOP_WITHIN, all).await;
    }
}

/// Runs one cell, bounded by `limit` from start to verdict.
pub async fn run(params: &Params, row: &ClientSide, col: &NodeSide, limit: Duration) -> Cell {
    let mut rig = Rig::default();
    let work = async {
        match rig.start(params, row, col).await {
            Ok(socks) => match &rig.origin {
                Some(origin) => exchange::run(socks, origin).await,
                None => Delivery::Failed {
                    reason: "the origin did not start".into(),
                },
            },
            Err(reason) => Delivery::Failed {
                reason: format!("cannot start the {reason}"),
            },
        }
    };
    let delivery = tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Delivery::Timeout {
            ms: limit.as_millis() as u64,
        });
    let exchanges = rig.tap.as_ref().map(Tap::exchanges).unwrap_or_default();
    rig.stop().await;
    let facts = WireFacts::from_exchanges(&exchanges);
    Cell {
        client: row.label.clone(),
        node: col.label.clone(),
        required: row.required && col.required,
        wire: facts.kind(),
        facts,
        delivery,
    }
}
