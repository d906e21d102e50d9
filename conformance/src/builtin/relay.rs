//! The reference node behind the reference relay: the node-role cases in the outer dialect,
//! the way a client in the field reaches a node. Cases that need the node's own HTTP surface
//! (auth pages, gzip bodies, `/health`) are ignored for this target by their `direct` feature.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use seqtun_relay::RelayConfig;

use super::{BuiltinNode, KEY, start_node};
use crate::expr::Params;
use crate::target::features;

/// The deployment id the built-in relay target uses.
const DEPLOYMENT: &str = "seqtun-conform";

/// Starts a pipelined reference node and a relay in front of it with Apps Script's limits but
/// no added latency and no faults; clients use [`KEY`] at the relay, and the relay uses it at
/// the node.
pub async fn start_node_behind_relay(label: &str, params: &Params) -> std::io::Result<BuiltinNode> {
    let mut node = start_node(label, params, false).await?;
    let mut cfg = RelayConfig::new(node.target.url.clone(), KEY, KEY);
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let relay = seqtun_relay::spawn(cfg)
        .await
        .map_err(std::io::Error::other)?;
    let t = &mut node.target;
    t.relay_url = Some(relay.url_for(DEPLOYMENT));
    t.diagnostic_url = None;
    t.features = [features::UDP, features::SINGLE_OP, features::VIA_RELAY]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>();
    node.relays.push(relay);
    Ok(node)
}
