//! Accepting connections and running the node in-process (tests, the conformance runner) or
//! as the binary.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::{NodeConfig, NodeState, routes};

/// A running node. Dropping it leaves the node running; call [`NodeHandle::shutdown`].
pub struct NodeHandle {
    pub addr: SocketAddr,
    pub state: Arc<NodeState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl NodeHandle {
    /// `http://<addr>`, the base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drops open connections and closes every session.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.state.table.close_all().await;
    }
}

/// Binds `listen` and serves the node in the background.
pub async fn spawn(cfg: NodeConfig, listen: SocketAddr) -> std::io::Result<NodeHandle> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(NodeState::new(cfg));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, Arc::clone(&state), stopped));
    Ok(NodeHandle {
        addr,
        state,
        stop,
        task,
    })
}

async fn serve(listener: TcpListener, state: Arc<NodeState>, mut stopped: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let reaper = tokio::spawn(reap_forever(Arc::clone(&state)));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = Arc::clone(&state);
                    conns.spawn(async move {
                        let service = service_fn(move |req| routes::handle(Arc::clone(&state), req));
                        let io = TokioIo::new(stream);
                        if let Err(e) = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(io, service)
                            .await
                        {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
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
    reaper.abort();
    conns.shutdown().await;
}

async fn reap_forever(state: Arc<NodeState>) {
    let p = &state.cfg.params;
    let mut tick = tokio::time::interval(p.reap_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let n = state
            .table
            .reap(Instant::now(), p.tcp_idle_timeout, p.udp_idle_timeout)
            .await;
        if n > 0 {
            tracing::info!(reaped = n, live = state.table.len(), "reaped idle sessions");
        }
    }
}
