//! `connect`, `connect_data` (§2.2): dial the upstream, create the session.

use std::sync::Arc;

use seqtun_wire::reply::OpError;
use seqtun_wire::{BatchOp, Reply};
use tokio::net::TcpStream;

use super::target;
use crate::NodeState;
use crate::tcp::TcpSession;

/// Dials `host:port` and registers nothing yet; the caller decides when the session becomes
/// visible.
async fn dial(state: &NodeState, op: &BatchOp) -> Result<Arc<TcpSession>, OpError> {
    let (host, port) = target(op)?;
    let permit = state
        .table
        .reserve()
        .map_err(|e| OpError::ConnectFailed(e.to_string()))?;
    let timeout = state.cfg.params.connect_timeout;
    let stream =
        match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(OpError::ConnectFailed(e.to_string())),
            Err(_) => return Err(OpError::ConnectFailed("connect timeout".into())),
        };
    let _ = stream.set_nodelay(true);
    let sid = uuid::Uuid::new_v4().to_string();
    tracing::debug!(%sid, %host, port, "session opened");
    Ok(TcpSession::start(
        sid,
        stream,
        state.cfg.params.read_buf_cap,
        state.new_gate(),
        permit,
    ))
}

/// `connect`: `{"sid":S,"eof":false,"caps":1}` (no `caps` in legacy mode).
pub async fn connect(state: &NodeState, op: &BatchOp) -> Reply {
    match dial(state, op).await {
        Ok(s) => {
            state.table.insert_tcp(Arc::clone(&s));
            Reply::drained(&s.sid, b"", false).with_caps(state.caps())
        }
        Err(e) => e.into(),
    }
}

/// `connect_data`: dial, write the first bytes, and hand the session back to be drained like a
/// `data` op. A bad payload or a failed write leaves no session behind.
pub async fn connect_data(state: &NodeState, op: &BatchOp) -> Result<Arc<TcpSession>, Reply> {
    let first = op
        .payload()
        .map_err(|e| OpError::BadBase64(e.to_string()))?;
    let s = dial(state, op).await?;
    if !first.is_empty()
        && let Err(e) = s.write(&first).await
    {
        s.close().await;
        return Err(OpError::WriteFailed(e.to_string()).into());
    }
    state.table.insert_tcp(Arc::clone(&s));
    Ok(s)
}
