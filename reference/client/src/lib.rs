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
pub mod health;
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
use health::Health;
use seqtun_runtime::metrics::StatsSource;
use seqtun_wire::BatchOp;
use session::Ctx;
use std::time::Duration;
use transport::Transport;
use transport::connector::{FrontConnector, tls_config};

/// A running client. Dropping it leaves the client running; call [`ClientHandle::shutdown`].
pub struct ClientHandle {
    /// Where the SOCKS5 listener accepts, if configured.
    pub socks: Option<SocketAddr>,
    /// Where the HTTP CONNECT listener accepts, if configured.
    pub http: Option<SocketAddr>,
    /// Where `/stats` and `/metrics` are served, if `--metrics` was given.
    pub metrics: Option<SocketAddr>,
    pub stats: Arc<Stats>,
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    mux_task: JoinHandle<()>,
    /// The listeners; each ends its sessions when `stop` turns true.
    listeners: Vec<JoinHandle<()>>,
    /// Stats line, metrics listener.
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
        for task in self
            .listeners
            .into_iter()
            .chain(self.tasks)
            .chain([self.mux_task])
        {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stops accepting, ends every session, sends `close` for the sessions still open at the
    /// node, and lets in-flight batches (those closes included) finish within `grace`; then
    /// stops. Returns the final counters.
    pub async fn shutdown_within(self, grace: Duration) -> Snapshot {
        let deadline = tokio::time::Instant::now() + grace;
        let _ = self.stop.send(true);
        for task in self.listeners {
            let _ = task.await;
        }
        let open = self.ctx.open_sids();
        let closes = open
            .iter()
            .map(|sid| self.ctx.mux.request(BatchOp::close(sid)));
        let all = async {
            futures_util::future::join_all(closes).await;
            while self.stats.snapshot().inflight_batches > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            tracing::warn!(
                "batches still in flight after the {} shutdown grace period; dropping them (raise --shutdown-grace-secs)",
                seqtun_runtime::show::duration(grace)
            );
        }
        for task in self.tasks.into_iter().chain([self.mux_task]) {
            task.abort();
            let _ = task.await;
        }
        self.stats.snapshot()
    }
}

/// Binds the configured listeners and starts the client in the background.
pub async fn spawn(cfg: ClientConfig) -> Result<ClientHandle, StartError> {
    cfg.validate()?;
    let tls = tls_config(cfg.ca_file.as_deref()).map_err(StartError::Tls)?;
    // Each relay dials with its own fronting: it belongs to the relay, not the client.
    let transports = cfg
        .relays
        .iter()
        .map(|spec| {
            let connector = FrontConnector::new(spec.front, spec.sni.clone(), Arc::clone(&tls));
            Transport::new(
                spec.clone(),
                cfg.key_for(spec),
                connector,
                cfg.params.max_reply_body_bytes,
            )
        })
        .collect();
    let stats = Arc::new(Stats::default());
    let health = Arc::new(Health::new(&cfg.params));
    let relays = mux::Relays::new(
        cfg.params.clone(),
        cfg.faults.clone(),
        transports,
        Arc::clone(&stats),
        Arc::clone(&health),
    );
    let (mux, mux_task) = mux::start(relays);
    let ctx = Arc::new(Ctx {
        params: cfg.params.clone(),
        faults: cfg.faults.clone(),
        mux,
        stats: Arc::clone(&stats),
        socks_auth: cfg.socks_auth.clone(),
        handshake_timeout: cfg.handshake_timeout,
        pipelining_disabled: Default::default(),
        connect_data_unsupported: Default::default(),
        health,
        open: Default::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let sessions = Arc::new(Semaphore::new(cfg.max_sessions));
    let mut bound = [None, None];
    let mut listeners = Vec::new();
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
                for task in listeners.iter().chain([&mux_task]) {
                    task.abort();
                }
                return Err(StartError::Listen {
                    role: front.name(),
                    addr,
                    source,
                });
            }
        };
        listeners.push(tokio::spawn(front::serve(
            listener,
            front,
            Arc::clone(&ctx),
            Arc::clone(&sessions),
            stopped.clone(),
        )));
    }
    let mut tasks = Vec::new();
    let metrics = match cfg.metrics {
        Some(addr) => {
            let source: Arc<dyn StatsSource> = Arc::new(StatsPage(Arc::clone(&stats)));
            match seqtun_runtime::metrics::listen(addr, source, stopped.clone()).await {
                Ok((local, task)) => {
                    tasks.push(task);
                    Some(local)
                }
                Err(source) => {
                    for task in listeners.iter().chain([&mux_task]) {
                        task.abort();
                    }
                    return Err(StartError::Listen {
                        role: "metrics",
                        addr,
                        source,
                    });
                }
            }
        }
        None => None,
    };
    log_summary(&cfg, bound);
    if let Some(every) = cfg.stats_interval {
        tasks.push(tokio::spawn(stats_forever(Arc::clone(&stats), every)));
    }
    Ok(ClientHandle {
        socks: bound[0],
        http: bound[1],
        metrics,
        stats,
        ctx,
        stop,
        mux_task,
        listeners,
        tasks,
    })
}

/// The client's `/stats` and `/metrics`.
struct StatsPage(Arc<Stats>);

impl StatsSource for StatsPage {
    fn stats_json(&self) -> String {
        let snap = self.0.snapshot();
        snap.to_json(&self.0.rates_json(&snap))
    }

    fn metrics_text(&self) -> String {
        seqtun_runtime::metrics::render("seqtun_client", self.0.snapshot().families())
    }
}

fn log_summary(cfg: &ClientConfig, bound: [Option<SocketAddr>; 2]) {
    use seqtun_runtime::show::{duration, opt};
    let p = &cfg.params;
    let relays: Vec<String> = cfg
        .relays
        .iter()
        .map(|r| {
            let kind = match r.kind {
                RelayKind::Direct => "node",
                RelayKind::AppsScript => "apps-script",
            };
            match (r.front, &r.sni) {
                (None, None) => format!("{} ({kind})", r.url),
                (front, sni) => format!(
                    "{} ({kind}, front {}, sni {})",
                    r.url,
                    opt(front),
                    opt(sni.as_deref())
                ),
            }
        })
        .collect();
    tracing::info!(
        "seqtun-client started: socks={} http={} relays=[{}] depth={} request_timeout={} reply_watchdog={} coalesce={}/{} prompt={} first_data_wait={}",
        opt(bound[0]),
        opt(bound[1]),
        relays.join(", "),
        if p.pipelining_enabled() { p.depth } else { 1 },
        duration(p.request_timeout),
        duration(seqtun_wire::client::timeouts::pipelined_reply_timeout(
            p.request_timeout
        )),
        duration(p.coalesce_step),
        duration(p.coalesce_max),
        duration(p.coalesce_prompt),
        duration(p.first_data_wait),
    );
    if cfg.faults.any() {
        tracing::warn!(faults = ?cfg.faults, "deliberate protocol faults are on (conformance mutant check)");
    }
}

async fn stats_forever(stats: Arc<Stats>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    let (mut prev, mut at) = (stats.snapshot(), tokio::time::Instant::now());
    loop {
        tick.tick().await;
        let snap = stats.snapshot();
        tracing::info!("stats: {}", snap.line(&prev, at.elapsed().as_secs_f64()));
        (prev, at) = (snap, tokio::time::Instant::now());
    }
}
