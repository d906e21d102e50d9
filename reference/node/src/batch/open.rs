//! Opening sessions (§2.2, §8): dial TCP or bind connected UDP, write the first bytes, and make
//! the session visible in the table only once nothing can fail any more, so a failed
//! `connect_data` or `udp_open` leaves no session behind.

use std::net::SocketAddr;
use std::sync::Arc;

use seqtun_wire::ops::{Open, OpenKind, Target};
use seqtun_wire::reply::OpError;
use tokio::net::{TcpStream, UdpSocket};

use crate::NodeState;
use crate::tcp::TcpSession;
use crate::udp::UdpSession;
use crate::watch::Watched;

/// Opens what `open` names.
pub async fn open(state: &NodeState, open: Open) -> Result<Watched, OpError> {
    match open.kind {
        OpenKind::Connect | OpenKind::ConnectData => tcp(state, &open.target, &open.first)
            .await
            .map(Watched::Tcp),
        OpenKind::UdpOpen => udp(state, &open.target, &open.first)
            .await
            .map(Watched::Udp),
    }
}

/// Dials `target`, writes `first` (if any) and registers the session.
pub async fn tcp(
    state: &NodeState,
    target: &Target,
    first: &[u8],
) -> Result<Arc<TcpSession>, OpError> {
    let permit = state
        .table
        .reserve()
        .map_err(|e| OpError::ConnectFailed(e.to_string()))?;
    let timeout = state.cfg.params.connect_timeout;
    let dial = TcpStream::connect((target.host.as_str(), target.port));
    let stream = match tokio::time::timeout(timeout, dial).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(OpError::ConnectFailed(e.to_string())),
        Err(_) => return Err(OpError::ConnectFailed("connect timeout".into())),
    };
    let _ = stream.set_nodelay(true);
    let sid = uuid::Uuid::new_v4().to_string();
    tracing::debug!(%sid, host = %target.host, port = target.port, "session opened");
    let s = TcpSession::start(
        sid,
        stream,
        state.cfg.params.read_buf_cap,
        state.new_gate(),
        permit,
    );
    if !first.is_empty()
        && let Err(e) = s.write(first).await
    {
        s.close().await;
        return Err(OpError::WriteFailed(e.to_string()));
    }
    state.table.insert_tcp(Arc::clone(&s));
    Ok(s)
}

async fn bind_connected(target: &Target) -> Result<UdpSocket, OpError> {
    let failed = |e: std::io::Error| OpError::UdpConnectFailed(e.to_string());
    let peer: SocketAddr = tokio::net::lookup_host((target.host.as_str(), target.port))
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

/// Binds a UDP socket connected to `target`, sends `first` (if any) and registers the session.
async fn udp(state: &NodeState, target: &Target, first: &[u8]) -> Result<Arc<UdpSession>, OpError> {
    let permit = state
        .table
        .reserve()
        .map_err(|e| OpError::UdpConnectFailed(e.to_string()))?;
    let socket = bind_connected(target).await?;
    let sid = uuid::Uuid::new_v4().to_string();
    let s = UdpSession::start(sid, socket, state.cfg.params.udp_queue_limit, permit);
    if !first.is_empty()
        && let Err(e) = s.send(first).await
    {
        s.close();
        return Err(OpError::UdpWriteFailed(e.to_string()));
    }
    state.table.insert_udp(Arc::clone(&s));
    Ok(s)
}
