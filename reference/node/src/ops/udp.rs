//! `udp_open` and `udp_data` (§8): one datagram per op, replies drain the whole queue.

use std::net::SocketAddr;
use std::sync::Arc;

use seqtun_wire::reply::OpError;
use seqtun_wire::{BatchOp, Reply};
use tokio::net::UdpSocket;

use super::{sid, target};
use crate::NodeState;
use crate::udp::UdpSession;

async fn bind_connected(host: &str, port: u16) -> Result<UdpSocket, OpError> {
    let failed = |e: std::io::Error| OpError::UdpConnectFailed(e.to_string());
    let peer: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .map_err(failed)?
        .next()
        .ok_or_else(|| OpError::UdpConnectFailed("no UDP address resolved".into()))?;
    let local: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = UdpSocket::bind(local).await.map_err(failed)?;
    socket.connect(peer).await.map_err(failed)?;
    Ok(socket)
}

/// `udp_open`: bind, connect, send the first datagram, and return the session to drain.
pub async fn udp_open(state: &NodeState, op: &BatchOp) -> Result<Arc<UdpSession>, Reply> {
    let (host, port) = target(op)?;
    let first = op
        .payload()
        .map_err(|e| OpError::BadBase64(e.to_string()))?;
    let permit = state
        .table
        .reserve()
        .map_err(|e| OpError::UdpConnectFailed(e.to_string()))?;
    let socket = bind_connected(&host, port).await?;
    let sid = uuid::Uuid::new_v4().to_string();
    let s = UdpSession::start(sid, socket, state.cfg.params.udp_queue_limit, permit);
    if !first.is_empty()
        && let Err(e) = s.send(&first).await
    {
        s.close();
        return Err(OpError::UdpWriteFailed(e.to_string()).into());
    }
    state.table.insert_udp(Arc::clone(&s));
    Ok(s)
}

/// `udp_data`: send one datagram (send errors are ignored, as deployed) and return the session
/// to drain. Every op, polls included, refreshes idleness (§5.1); deployed nodes count only
/// datagrams (the `udp_polls_do_not_refresh` fault).
pub async fn udp_data(state: &NodeState, op: &BatchOp) -> Result<Arc<UdpSession>, Reply> {
    let sid = sid(op)?;
    let Some(s) = state.table.udp(sid) else {
        return Err(Reply::gone(sid));
    };
    if op.has_payload() || !state.cfg.faults.udp_polls_do_not_refresh {
        s.touch();
    }
    let datagram = op
        .payload()
        .map_err(|e| OpError::BadBase64(e.to_string()))?;
    if !datagram.is_empty()
        && let Err(e) = s.send(&datagram).await
    {
        tracing::debug!(%sid, error = %e, "udp send failed");
    }
    Ok(s)
}
