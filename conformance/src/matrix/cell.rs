//! One cell: a fresh origin, node, tap, relay and client on loopback, one exchange, then
//! everything stopped again.
//!
//! Every cell gets its own processes' worth of state, because the reference client learns
//! sticky facts (a missing echo disables pipelining until restart, §7.8): a cell that shared a
//! client with another would report what the previous cell taught it.

use std::net::SocketAddr;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientFaults, ClientHandle, RelaySpec};
use seqtun_node::{Deployed, Faults, NodeConfig, NodeHandle};
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
    /// A stand-in for a deployed node: its faults and limits replace `faults`.
    pub deployed: Option<Deployed>,
    pub required: bool,
}

impl NodeSide {
    /// The column of a stand-in for a deployed node; it never fails the run.
    pub fn standin(d: Deployed) -> Self {
        Self {
            label: d.label().into(),
            legacy: false,
            faults: d.faults(),
            deployed: Some(d),
            required: false,
        }
    }

    /// The node settings of this column on `params`' timing, except for two timeouts a cell
    /// does not check: nothing is reaped during a cell (a loaded machine can leave a session
    /// untouched for the fast profile's idle time while its upload crosses the relay), and a
    /// seq'd op waits for its predecessor as long as the client waits for a reply (the fast
    /// profile's 2 s ran out on a loaded machine while seq 9's 1 MiB request was still being
    /// read: "seq 10 timed out waiting for 9").
    pub fn config(&self, params: &Params) -> NodeConfig {
        let mut cfg = node_config(params, self.legacy, false);
        cfg.params.tcp_idle_timeout = super::CELL_TIMEOUT;
        cfg.params.udp_idle_timeout = super::CELL_TIMEOUT;
        cfg.params.seq_wait_timeout = CELL_REPLY_TIMEOUT;
        match self.deployed {
            Some(d) => {
                d.apply(&mut cfg);
                // Deployed sizes, not the profile's: with the fast profile's small batch budget
                // the NODE-MAIN-like budget gap (E-1) drops uploads' replies that the deployed
                // 32 MiB budget never drops at a cell's sizes, so the cell would break for a
                // reason the real node does not have.
                let deployed = NodeConfig::new(KEY).params;
                cfg.params.tcp_drain_max = deployed.tcp_drain_max;
                cfg.params.batch_budget = deployed.batch_budget;
                // The dialect's long-poll, in proportion to #903's (which the profile has).
                let ratio = d.longpoll().as_secs_f64() / Deployed::Node903.longpoll().as_secs_f64();
                cfg.params.longpoll_deadline = cfg.params.longpoll_deadline.mul_f64(ratio);
            }
            None => cfg.faults = self.faults.clone(),
        }
        cfg
    }
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
    /// Setup to verdict.
    pub elapsed_ms: u64,
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

/// How long a cell's client waits for a reply: long enough for a loaded machine moving every
/// cell's uploads at once, well inside the cell's bound.
pub const CELL_REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// Client settings that keep a cell quick: batches fire within milliseconds, and a lost reply
/// ends the session long before the cell's own bound. `uploader` keeps the default op size and
/// the default coalescing, so full 1 MiB ops of the three upload sessions share requests and
/// meet the body limit as they do in the field, every time rather than when timing allows.
fn client_config(
    relay_url: &str,
    side: &ClientSide,
    uploader: bool,
) -> Result<ClientConfig, String> {
    let spec = RelaySpec::parse(relay_url).map_err(|e| e.to_string())?;
    let mut cfg = ClientConfig::new(vec![spec], RELAY_KEY);
    cfg.socks = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    cfg.stats_interval = None;
    cfg.faults = side.faults.clone();
    let p = &mut cfg.params;
    p.no_pipelining = side.no_pipelining;
    p.request_timeout = CELL_REPLY_TIMEOUT;
    p.legacy_reply_timeout = CELL_REPLY_TIMEOUT;
    if !uploader {
        p.coalesce_step = Duration::from_millis(2);
        p.coalesce_max = Duration::from_millis(10);
        p.max_data_op_bytes = CELL_OP_BYTES;
    } else if side.faults.ignore_body_limit {
        // The client before the body cap also predates prompt batches (§6.3): its app bytes
        // waited out the coalescing step like every op, which is how two sessions' full ops
        // came to share a request in the field. With prompt batches each would leave alone.
        p.coalesce_prompt = p.coalesce_step;
    }
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
    uploader: Option<ClientHandle>,
}

impl Rig {
    async fn start(
        &mut self,
        params: &Params,
        row: &ClientSide,
        col: &NodeSide,
    ) -> Result<(SocketAddr, SocketAddr), String> {
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
        let node = seqtun_node::spawn(col.config(params), SocketAddr::from(([127, 0, 0, 1], 0)))
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
        let url = relay.url_for(DEPLOYMENT);
        self.relay = Some(relay);
        let mut socks = Vec::new();
        for uploader in [false, true] {
            let client = seqtun_client::spawn(client_config(&url, row, uploader)?)
                .await
                .map_err(|e| format!("client: {e}"))?;
            socks.push(client.socks.ok_or("the client has no SOCKS5 listener")?);
            *if uploader {
                &mut self.uploader
            } else {
                &mut self.client
            } = Some(client);
        }
        Ok((socks[0], socks[1]))
    }

    async fn stop(&mut self) {
        let all = async {
            for c in [self.client.take(), self.uploader.take()]
                .into_iter()
                .flatten()
            {
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
    let started = tokio::time::Instant::now();
    let mut rig = Rig::default();
    let work = async {
        match rig.start(params, row, col).await {
            Ok((socks, uploader)) => match &rig.origin {
                Some(origin) => match exchange::run(socks, origin).await {
                    Delivery::Ok => super::uploads::uploads(uploader, origin).await,
                    broken => broken,
                },
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
    let delivery = with_node_error(delivery, &exchanges);
    let facts = WireFacts::from_exchanges(&exchanges);
    Cell {
        client: row.label.clone(),
        node: col.label.clone(),
        required: row.required && col.required,
        wire: facts.kind(),
        facts,
        delivery,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// A failed cell says what the node answered, when an op's reply was an error: "the tunnel
/// closed after 0 bytes" alone does not tell a seq timeout from a refused body.
fn with_node_error(delivery: Delivery, exchanges: &[super::tap::Exchange]) -> Delivery {
    match (delivery, super::tap::first_error(exchanges)) {
        (Delivery::Failed { reason }, Some(e)) => Delivery::Failed {
            reason: format!("{reason} (first node error on the wire: {e})"),
        },
        (delivery, _) => delivery,
    }
}
