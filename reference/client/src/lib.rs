//! seqtun-client: the reference tunnel client.
//!
//! Apps connect to its SOCKS5 or HTTP CONNECT listener; each connection becomes a session on a
//! tunnel node, reached directly or through Apps Script relays. Sessions pipeline their `data`
//! ops when their node offers it (PR #903) and fall back to the legacy loop otherwise. Every
//! protocol decision is made by the sans-IO machines in `seqtun_wire::client`; this crate owns
//! the sockets, the tasks and the clock. Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod cli;
pub mod config;
pub mod config_file;
pub mod error;
pub mod front;
pub mod mux;
pub mod session;
pub mod stats;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use config::{ClientConfig, RelayKind, RelaySpec};
pub use error::{ConfigError, StartError};
pub use seqtun_wire::client::{ClientFaults, ClientParams};
pub use stats::{Snapshot, Stats};

use front::Front;
use session::Ctx;
use transport::Transport;
use transport::connector::{FrontConnector, tls_config};

/// A running client. Dropping it leaves the client running; call [`ClientHandle::shutdown`].
pub struct ClientHandle {
    /// Where the SOCKS5 listener accepts, if configured.
    pub socks: Option<SocketAddr>,
    /// Where the HTTP CONNECT listener accepts, if configured.
    pub http: Option<SocketAddr>,
    pub stats: Arc<Stats>,
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClientHandle {
    /// True once a pipelined reply without `seq` disabled pipelining for new sessions (§7.8).
    pub fn pipelining_disabled(&self) -> bool {
        self.ctx.pipelining_disabled.is_set()
    }

    /// True once `connect_data` was answered `UNSUPPORTED_OP` (§6.2).
    pub fn connect_data_unsupported(&self) -> bool {
        self.ctx.connect_data_unsupported.is_set()
    }

    /// Stops accepting and ends every session.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Binds the configured listeners and starts the client in the background.
pub async fn spawn(cfg: ClientConfig) -> Result<ClientHandle, StartError> {
    cfg.validate()?;
    let tls = tls_config(cfg.ca_file.as_deref()).map_err(StartError::Tls)?;
    let connector = FrontConnector::new(cfg.front, cfg.sni.clone(), tls);
    let transports = cfg
        .relays
        .iter()
        .map(|spec| {
            Transport::new(
                spec.clone(),
                &cfg.key,
                connector.clone(),
                cfg.params.max_reply_body_bytes,
            )
        })
        .collect();
    let stats = Arc::new(Stats::default());
    let relays = mux::Relays::new(
        cfg.params.clone(),
        cfg.faults.clone(),
        transports,
        Arc::clone(&stats),
    );
    let mut tasks = Vec::new();
    let (mux, mux_task) = mux::start(relays);
    tasks.push(mux_task);
    let ctx = Arc::new(Ctx {
        params: cfg.params.clone(),
        faults: cfg.faults.clone(),
        mux,
        stats: Arc::clone(&stats),
        socks_auth: cfg.socks_auth.clone(),
        handshake_timeout: cfg.handshake_timeout,
        pipelining_disabled: Default::default(),
        connect_data_unsupported: Default::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let sessions = Arc::new(Semaphore::new(cfg.max_sessions));
    let mut bound = [None, None];
    for (slot, (front, addr)) in [(Front::Socks5, cfg.socks), (Front::Http, cfg.http)]
        .into_iter()
        .enumerate()
    {
        let Some(addr) = addr else { continue };
        let listener = match TcpListener::bind(addr)
            .await
            .and_then(|l| Ok((l.local_addr()?, l)))
        {
            Ok((local, listener)) => {
                bound[slot] = Some(local);
                listener
            }
            Err(source) => {
                // Nothing may keep running behind an error: stop what already started.
                for task in &tasks {
                    task.abort();
                }
                return Err(StartError::Listen {
                    role: front.name(),
                    addr,
                    source,
                });
            }
        };
        tasks.push(tokio::spawn(front::serve(
            listener,
            front,
            Arc::clone(&ctx),
            Arc::clone(&sessions),
            stopped.clone(),
        )));
    }
    log_summary(&cfg, bound);
    if let Some(every) = cfg.stats_interval {
        tasks.push(tokio::spawn(stats_forever(Arc::clone(&stats), every)));
    }
    Ok(ClientHandle {
        socks: bound[0],
        http: bound[1],
        stats,
        ctx,
        stop,
        tasks,
    })
}

fn log_summary(cfg: &ClientConfig, bound: [Option<SocketAddr>; 2]) {
    let p = &cfg.params;
    let relays: Vec<String> = cfg
        .relays
        .iter()
        .map(|r| format!("{} ({:?})", r.url, r.kind))
        .collect();
    tracing::info!(
        socks = ?bound[0],
        http = ?bound[1],
        relays = %relays.join(", "),
        front = ?cfg.front,
        sni = ?cfg.sni,
        depth = if p.pipelining_enabled() { p.depth } else { 1 },
        request_timeout = ?p.request_timeout,
        reply_watchdog = ?seqtun_wire::client::timeouts::pipelined_reply_timeout(p.request_timeout),
        coalesce = ?(p.coalesce_step, p.coalesce_max),
        "seqtun-client started"
    );
    if cfg.faults.any() {
        tracing::warn!(faults = ?cfg.faults, "deliberate protocol faults are on (conformance mutant check)");
    }
}

async fn stats_forever(stats: Arc<Stats>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tick.tick().await;
        tracing::info!("stats: {}", stats.snapshot());
    }
}
