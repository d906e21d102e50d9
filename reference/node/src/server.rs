//! Accepting connections and running the node in-process (tests, the conformance runner) or
//! as the binary.
//!
//! Shutdown is graceful: the listener closes first, parked seq'd polls are told to answer now,
//! in-flight requests get up to the grace period to finish (hyper then closes each connection
//! after its current request), and only then are connections dropped and sessions closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use seqtun_runtime::conn::io::TrackedIo;
use seqtun_runtime::conn::{self, Closed};
use seqtun_wire::reap::ReapLimits;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::stats::NodeSnapshot;
use crate::{NodeConfig, NodeState, routes};

/// A running node. Dropping it leaves the node running; call [`NodeHandle::shutdown`].
pub struct NodeHandle {
    pub addr: SocketAddr,
    pub state: Arc<NodeState>,
    /// `None` while running; the grace period once stopping.
    stop: watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

impl NodeHandle {
    /// `http://<addr>`, the base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drops open connections and closes every session.
    pub async fn shutdown(self) {
        self.shutdown_within(Duration::ZERO).await;
    }

    /// Stops accepting, lets in-flight requests finish within `grace`, then drops what is
    /// left and closes every session; returns the final counters.
    pub async fn shutdown_within(self, grace: Duration) -> NodeSnapshot {
        let _ = self.stop.send(Some(grace));
        let _ = self.task.await;
        self.state.table.close_all().await;
        self.state.snapshot()
    }
}

/// Binds `listen` and serves the node in the background.
pub async fn spawn(cfg: NodeConfig, listen: SocketAddr) -> std::io::Result<NodeHandle> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(NodeState::new(cfg));
    let (stop, stopped) = watch::channel(None);
    let task = tokio::spawn(serve(listener, Arc::clone(&state), stopped));
    Ok(NodeHandle {
        addr,
        state,
        stop,
        task,
    })
}

async fn serve(
    listener: TcpListener,
    state: Arc<NodeState>,
    mut stopped: watch::Receiver<Option<Duration>>,
) {
    let mut conns = JoinSet::new();
    let graceful = GracefulShutdown::new();
    let reaper = tokio::spawn(reap_forever(Arc::clone(&state)));
    let grace = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(admitted) = state.conns.admit() else {
                        // Every connection is busy answering: this one waits its turn by
                        // being closed (the client retries), not by exhausting descriptors.
                        tracing::debug!(%peer, "connection refused: every connection is busy (raise --max-connections)");
                        continue;
                    };
                    let state = Arc::clone(&state);
                    let watcher = graceful.watcher();
                    conns.spawn(async move {
                        let tracked = Arc::clone(&admitted.state);
                        let io = TokioIo::new(TrackedIo::new(stream, Arc::clone(&tracked)));
                        let handler = {
                            let state = Arc::clone(&state);
                            move |req| routes::handle(Arc::clone(&state), req)
                        };
                        let service = conn::track(tracked, handler);
                        let conn = http1_builder().serve_connection(io, service);
                        match state.conns.run(&admitted, watcher.watch(conn)).await {
                            Some(Closed::Shed) => tracing::debug!(%peer, "stalled connection shed at the connection cap"),
                            Some(Closed::TimedOut(phase)) => tracing::debug!(%peer, phase = phase.name(), "connection timed out"),
                            None => {}
                        }
                    });
                }
                Err(e) => {
                    // EMFILE should not happen below --max-connections; back off briefly
                    // instead of spinning if it does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            changed = stopped.changed() => match (changed, *stopped.borrow()) {
                (Ok(()), Some(grace)) => break grace,
                (Ok(()), None) => {}
                (Err(_), _) => break Duration::ZERO,
            },
        }
    };
    drop(listener);
    reaper.abort();
    if !grace.is_zero() {
        state.table.preempt_all();
        let in_flight = conns.len();
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight,
                "requests still running after the {} shutdown grace period; dropping them (raise --shutdown-grace-secs)",
                seqtun_runtime::show::duration(grace)
            );
        }
    }
    conns.shutdown().await;
}

/// HTTP/1 only, with nginx's header case: the node imitates an nginx that speaks no h2c
/// (§1.4), and no client of the protocol uses HTTP/2.
fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    // The header timeout is the connection registry's (--header-timeout-ms), not hyper's.
    b.header_read_timeout(None).title_case_headers(true);
    b
}

async fn reap_forever(state: Arc<NodeState>) {
    let p = &state.cfg.params;
    let mut tick = tokio::time::interval(p.reap_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let limits = ReapLimits {
            idle: p.tcp_idle_timeout,
            unclaimed: p.tcp_unclaimed_timeout,
        };
        let n = state
            .table
            .reap(Instant::now(), limits, p.udp_idle_timeout)
            .await;
        if n.unclaimed > 0 {
            state.stats.orphans_closed(n.unclaimed);
        }
        if n.idle + n.unclaimed > 0 {
            tracing::info!(
                idle = n.idle,
                unclaimed = n.unclaimed,
                live = state.table.len(),
                "reaped sessions"
            );
        }
    }
}

/// Logs the stats line every `every` until the task is aborted.
pub async fn stats_forever(state: Arc<NodeState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tick.tick().await;
    let mut prev = state.snapshot();
    let mut at = Instant::now();
    loop {
        tick.tick().await;
        let snap = state.snapshot();
        let secs = at.elapsed().as_secs_f64();
        tracing::info!("stats: {}", snap.line(&prev, secs));
        prev = snap;
        at = Instant::now();
    }
}
