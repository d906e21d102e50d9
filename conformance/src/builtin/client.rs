//! The reference client as a built-in client target, started in-process for every case so the
//! main job needs no binary on disk. It is tuned to the runner's parameters (coalescing window,
//! first-bytes wait) the same way a user would tune it with flags; nothing here judges anything.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientFaults, ClientHandle, RelaySpec};

use crate::client::ClientTarget;
use crate::client::launch::{LaunchError, Launcher, Started};
use crate::expr::Params;
use crate::target::features;

/// How a built-in client is set up.
#[derive(Clone, Default)]
pub struct ClientSetup {
    /// `--no-pipelining`: the legacy loop whatever the node offers.
    pub no_pipelining: bool,
    /// Point it at Apps Script style URLs (outer dialect) instead of a node URL.
    pub outer: bool,
    /// Deliberate protocol faults (the mutant check).
    pub faults: ClientFaults,
}

/// A built-in client target: the reference client with `setup`, one fresh instance per case.
pub fn client_target(label: &str, params: &Params, setup: ClientSetup) -> ClientTarget {
    // `pipeline-seq` is not assumed: the dialect probe adds it when the client shows it.
    let feats: BTreeSet<String> = [
        features::SOCKS5,
        features::HTTP_CONNECT,
        features::CONNECT_DATA,
        features::HALF_CLOSE,
        if setup.outer {
            features::VIA_RELAY
        } else {
            features::DIRECT
        },
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let params_for_launch = params.clone();
    let launch_setup = setup.clone();
    let launcher = Launcher::InProcess(Arc::new(move |url: String, key: String| {
        let params = params_for_launch.clone();
        let setup = launch_setup.clone();
        Box::pin(async move { start(&url, &key, &params, &setup).await })
    }));
    ClientTarget {
        label: label.to_string(),
        launcher,
        key: crate::builtin::KEY.to_string(),
        outer: setup.outer,
        features: feats,
        params: params.clone(),
    }
}

async fn start(
    url: &str,
    key: &str,
    params: &Params,
    setup: &ClientSetup,
) -> Result<Started, LaunchError> {
    let relay = RelaySpec::parse(url).map_err(|e| LaunchError::Failed(e.to_string()))?;
    let mut cfg = ClientConfig::new(vec![relay], key);
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    cfg.socks = Some(any);
    cfg.http = Some(any);
    cfg.stats_interval = None;
    cfg.faults = setup.faults.clone();
    let ms = |k: &str| params.get(k).map(|v| Duration::from_millis(*v as u64));
    let p = &mut cfg.params;
    if let Some(max) = ms("coalesce_max") {
        p.coalesce_max = max;
        p.coalesce_step = p.coalesce_step.min(max / 4);
    }
    if let Some(wait) = ms("first_bytes_wait") {
        p.first_data_wait = wait;
    }
    p.no_pipelining = setup.no_pipelining;
    let handle = seqtun_client::spawn(cfg)
        .await
        .map_err(|e| LaunchError::Failed(e.to_string()))?;
    Ok(Started {
        socks: handle.socks,
        http: handle.http,
        guard: Box::new(Stopper(Some(handle))),
        exited: Default::default(),
    })
}

/// Stops the in-process client when the case lets go of it.
struct Stopper(Option<ClientHandle>);

impl Drop for Stopper {
    fn drop(&mut self) {
        if let (Some(h), Ok(rt)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(h.shutdown());
        }
    }
}
