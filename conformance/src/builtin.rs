//! The built-in targets of the main job: the reference node (pipelined and `--legacy`) and the
//! reference client (pipelined, through an Apps Script URL, and `--no-pipelining`), run
//! in-process with the `fast` profile's limits so the whole suite takes seconds, not minutes.
//! Only this module and the compatibility matrix (`matrix/`) touch the reference crates, and
//! only to start them; verdicts come from raw JSON and bytes.

pub mod client;
pub mod relay;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use seqtun_node::{Faults, NodeConfig, NodeHandle};

use crate::expr::Params;
use crate::target::{NodeTarget, features};

/// The key the built-in targets use.
pub const KEY: &str = "seqtun-conformance";

/// Node settings matching a parameter set.
pub fn node_config(params: &Params, legacy: bool, diagnostic: bool) -> NodeConfig {
    let ms = |k: &str| Duration::from_millis(params.get(k).copied().unwrap_or_default() as u64);
    let n = |k: &str| params.get(k).copied().unwrap_or_default() as usize;
    let mut cfg = NodeConfig::new(KEY);
    cfg.legacy = legacy;
    cfg.diagnostic = diagnostic;
    let p = &mut cfg.params;
    p.longpoll_deadline = ms("longpoll_deadline");
    p.active_drain_deadline = ms("active_drain_deadline");
    p.settle_max = ms("settle_max");
    p.seq_wait_timeout = ms("seq_wait_timeout");
    p.tcp_drain_max = n("drain_max");
    p.batch_budget = n("batch_budget");
    p.read_buf_cap = p.read_buf_cap.max(4 * p.tcp_drain_max);
    p.udp_queue_limit = n("udp_queue_limit");
    p.replay_max_held = n("replay_max_held");
    p.connect_timeout = ms("connect_timeout");
    p.tcp_idle_timeout = ms("tcp_idle");
    p.udp_idle_timeout = ms("udp_idle");
    p.reap_interval = ms("reap_interval");
    p.single_wait_max = ms("single_wait_max");
    cfg
}

/// The `seqtun-node` flags that give a node `params` (those that differ from its defaults, which
/// are the `seqtun` profile's), so a node started by hand runs as the built-in targets do.
pub fn node_flags(params: &Params) -> String {
    let defaults = crate::params::profile(crate::params::DEFAULT_PROFILE).unwrap_or_default();
    let flags: [(&str, &str, f64); 13] = [
        ("longpoll_deadline", "--longpoll-ms", 1.0),
        ("active_drain_deadline", "--active-drain-ms", 1.0),
        ("settle_max", "--settle-max-ms", 1.0),
        ("seq_wait_timeout", "--seq-wait-ms", 1.0),
        ("drain_max", "--drain-max-bytes", 1.0),
        ("batch_budget", "--batch-budget-bytes", 1.0),
        ("udp_queue_limit", "--udp-queue-limit", 1.0),
        ("replay_max_held", "--replay-max-held", 1.0),
        ("connect_timeout", "--connect-timeout-ms", 1.0),
        ("tcp_idle", "--tcp-idle-secs", 1000.0),
        ("udp_idle", "--udp-idle-secs", 1000.0),
        ("reap_interval", "--reap-interval-ms", 1.0),
        ("single_wait_max", "--single-wait-ms", 1.0),
    ];
    flags
        .iter()
        .filter(|(k, _, _)| params.get(*k) != defaults.get(*k))
        .filter_map(|(k, flag, per)| {
            let v = params.get(*k)?;
            Some(format!("{flag} {}", (v / per).ceil() as u64))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The built-in client targets: the reference client pipelining (reached as a node and as an
/// Apps Script deployment) and with `--no-pipelining`.
pub fn client_targets(params: &Params) -> Vec<crate::client::ClientTarget> {
    use client::{ClientSetup, client_target};
    vec![
        client_target("seqtun-client", params, ClientSetup::default()),
        client_target(
            "seqtun-client-outer",
            params,
            ClientSetup {
                outer: true,
                ..ClientSetup::default()
            },
        ),
        client_target(
            "seqtun-client-legacy",
            params,
            ClientSetup {
                no_pipelining: true,
                ..ClientSetup::default()
            },
        ),
    ]
}

/// A running built-in node target (with its diagnostic twin, and the relay in front of it when
/// cases go through one).
pub struct BuiltinNode {
    pub target: NodeTarget,
    pub handles: Vec<NodeHandle>,
    pub relays: Vec<seqtun_relay::RelayHandle>,
}

impl BuiltinNode {
    pub async fn shutdown(self) {
        for r in self.relays {
            r.shutdown().await;
        }
        for h in self.handles {
            h.shutdown().await;
        }
    }
}

/// Starts a reference node (and a diagnostic twin) on loopback.
pub async fn start_node(
    label: &str,
    params: &Params,
    legacy: bool,
) -> std::io::Result<BuiltinNode> {
    start_node_with(label, params, legacy, Faults::default()).await
}

/// Starts a reference node with deliberate faults (the mutant check); it still claims to be a
/// #903 node, as a buggy implementation would.
pub async fn start_node_with(
    label: &str,
    params: &Params,
    legacy: bool,
    faults: Faults,
) -> std::io::Result<BuiltinNode> {
    start_node_tweaked(label, params, legacy, |cfg| cfg.faults = faults.clone()).await
}

/// Starts a reference node whose settings `tweak` changes after `params` set them (a mutant
/// with a wrong limit, say); the diagnostic twin gets the same change.
pub async fn start_node_tweaked(
    label: &str,
    params: &Params,
    legacy: bool,
    tweak: impl Fn(&mut NodeConfig),
) -> std::io::Result<BuiltinNode> {
    let any: SocketAddr = "127.0.0.1:0".parse().map_err(std::io::Error::other)?;
    let mut cfg = node_config(params, legacy, false);
    tweak(&mut cfg);
    let main = seqtun_node::spawn(cfg, any).await?;
    let mut cfg = node_config(params, legacy, true);
    tweak(&mut cfg);
    let diag = seqtun_node::spawn(cfg, any).await?;
    let mut feats: BTreeSet<String> = [
        features::UDP,
        features::SINGLE_OP,
        features::GZIP,
        features::DIRECT,
        features::DECOY_404,
        features::DIAGNOSTIC,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if !legacy {
        feats.insert(features::PIPELINE_SEQ.into());
        feats.insert(features::SEQ_ECHO.into());
        if main.state.rules.replay_safe {
            feats.insert(features::REPLAY_SAFE.into());
        }
    }
    let target = NodeTarget {
        label: label.to_string(),
        url: main.url(),
        relay_url: None,
        key: KEY.to_string(),
        diagnostic_url: Some(diag.url()),
        features: feats,
        params: params.clone(),
        fixture_ip: [127, 0, 0, 1].into(),
        in_process: true,
    };
    Ok(BuiltinNode {
        target,
        handles: vec![main, diag],
        relays: Vec::new(),
    })
}
