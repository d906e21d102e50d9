//! Un-seq'd `data` (§2.2): look the session up, write inline in op order, drain later.

use std::sync::Arc;

use seqtun_wire::reply::OpError;
use seqtun_wire::{BatchOp, Reply};

use super::sid;
use crate::NodeState;
use crate::tcp::TcpSession;

/// Writes the payload (if any) and returns the session to drain. An unknown sid is the
/// batch-path `{"sid":S,"eof":true}`.
pub async fn legacy_data(state: &NodeState, op: &BatchOp) -> Result<Arc<TcpSession>, Reply> {
    let sid = sid(op)?;
    let Some(s) = state.table.tcp(sid) else {
        return Err(Reply::gone(sid));
    };
    if op.has_payload() || !state.cfg.faults.tcp_polls_do_not_refresh {
        s.touch();
    }
    let bytes = op
        .payload()
        .map_err(|e| OpError::BadBase64(e.to_string()))?;
    if !bytes.is_empty()
        && let Err(e) = s.write(&bytes).await
    {
        // As deployed: the failure surfaces as eof once the reader sees the reset.
        tracing::debug!(%sid, error = %e, "uplink write failed");
    }
    Ok(s)
}
