//! Accepting connections, and running the relay in-process (tests, benches, the conformance
//! runner) or as the binary.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use seqtun_runtime::conn::{self, io::TrackedIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{ConfigError, RelayConfig};
use crate::node_client::NodeClient;
use crate::routes;
use crate::state::RelayState;
use crate::stats::StatsSnapshot;

/// A running relay. Dropping it leaves the relay running; call [`RelayHandle::shutdown`].
pub struct RelayHandle {
    pub addr: SocketAddr,
    state: Arc<RelayState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RelayHandle {
    /// The exec URL of `deployment`: what a client is configured with.
    pub fn url_for(&self, deployment: &str) -> String {
        format!("http://{}/macros/s/{deployment}/exec", self.addr)
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters right now (also served on `GET /stats`).
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// The connection counters right now: open, timed out, shed (`seqtun_runtime::conn`).
    pub fn connections(&self) -> conn::ConnSnapshot {
        self.state.conns.snapshot()
    }

    /// Stops accepting and drops open connections; returns the final counters.
    pub async fn shutdown(self) -> StatsSnapshot {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.state.stats.snapshot()
    }
}

/// Checks `cfg`, binds `cfg.listen` and serves the relay in the background.
pub async fn spawn(cfg: RelayConfig) -> Result<RelayHandle, ConfigError> {
    cfg.validate()?;
    let node = NodeClient::new(&cfg.node_url)?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ConfigError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ConfigError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let state = Arc::new(RelayState::new(cfg, node, addr));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, Arc::clone(&state), stopped));
    Ok(RelayHandle {
        addr,
        state,
        stop,
        task,
    })
}

async fn serve(listener: TcpListener, state: Arc<RelayState>, mut stopped: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(admitted) = state.conns.admit() else {
                        tracing::debug!(%peer, "connection refused: every connection is busy (raise --max-connections)");
                        continue;
                    };
                    let state = Arc::clone(&state);
                    conns.spawn(async move {
                        let tracked = Arc::clone(&admitted.state);
                        let io = TokioIo::new(TrackedIo::new(stream, Arc::clone(&tracked)));
                        let handler = {
                            let state = Arc::clone(&state);
                            move |req| routes::handle(Arc::clone(&state), req)
                        };
                        let mut builder = hyper::server::conn::http1::Builder::new();
                        builder.header_read_timeout(None);
                        let conn = builder.serve_connection(io, conn::track(tracked, handler));
                        if let Some(why) = state.conns.run(&admitted, conn).await {
                            tracing::debug!(%peer, ?why, "connection closed by the relay");
                        }
                    });
                }
                Err(e) => {
                    // Usually EMFILE; back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = stopped.changed() => break,
        }
    }
    conns.shutdown().await;
}
