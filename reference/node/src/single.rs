//! The single-op path `/tunnel` (§3.6): the dialect old relays use for one op at a time.
//!
//! It answers an unknown session with `{"e":"unknown session"}` rather than the batch path's
//! eof reply, and waits for downlink with its own quieter rule, both as deployed.

use std::sync::Arc;

use seqtun_wire::reply::OpError;
use seqtun_wire::{OpKind, Reply, SingleRequest};
use tokio::time::{Instant, sleep_until};

use crate::NodeState;
use crate::ops::{close, connect, sid};
use crate::tcp::TcpSession;

pub async fn run_single(state: &NodeState, req: &SingleRequest) -> Reply {
    let op = req.to_batch_op();
    match op.kind() {
        OpKind::Connect => connect::connect(state, &op).await,
        OpKind::ConnectData => match connect::connect_data(state, &op).await {
            Ok(s) => drain_after_wait(state, &s).await.with_caps(state.caps()),
            Err(r) => r,
        },
        OpKind::Data => {
            let sid = match sid(&op) {
                Ok(sid) => sid,
                Err(e) => return e.into(),
            };
            let Some(s) = state.table.tcp(sid) else {
                return OpError::UnknownSession.into();
            };
            s.touch();
            // Deployed nodes ignore an undecodable payload here; seqtun says so instead.
            let bytes = match op.payload() {
                Ok(bytes) => bytes,
                Err(_) if state.cfg.faults.single_ignores_bad_base64 => Vec::new(),
                Err(e) => return OpError::BadBase64(e.to_string()).into(),
            };
            if !bytes.is_empty()
                && let Err(e) = s.write(&bytes).await
            {
                state.table.close(sid).await;
                return OpError::WriteFailed(e.to_string()).into();
            }
            drain_after_wait(state, &s).await
        }
        OpKind::Close => close::close(state, &op).await,
        OpKind::UdpOpen | OpKind::UdpData | OpKind::Unknown(_) => {
            OpError::UnknownOp(op.op.clone()).into()
        }
    }
}

/// Waits until the upstream finished, `single_wait_max` passed, or bytes arrived and then
/// stayed quiet for `single_wait_quiet`; then drains (capped, unlike deployed nodes).
async fn drain_after_wait(state: &NodeState, s: &Arc<TcpSession>) -> Reply {
    let params = &state.cfg.params;
    let give_up = Instant::now() + params.single_wait_max;
    let mut seen = s.buffered();
    let mut quiet_until = (seen > 0).then(|| Instant::now() + params.single_wait_quiet);
    loop {
        let more = s.readable.notified();
        tokio::pin!(more);
        more.as_mut().enable();
        if s.upstream_done() {
            break;
        }
        let now_len = s.buffered();
        if now_len > seen {
            seen = now_len;
            quiet_until = Some(Instant::now() + params.single_wait_quiet);
        }
        let wake = quiet_until.map_or(give_up, |q| q.min(give_up));
        tokio::select! {
            () = more => {}
            () = sleep_until(wake) => {
                if s.buffered() == seen {
                    break;
                }
            }
        }
    }
    let (bytes, eof) = s.drain(params.tcp_drain_max);
    if eof {
        state.table.finish_tcp(s).await;
    }
    Reply::drained(&s.sid, &bytes, eof)
}
