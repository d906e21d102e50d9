//! A batch the node refused as too large (HTTP 413, or `tunnel batch HTTP 413` through a relay):
//! no op of it ran, so the cap is lowered and the batch is repacked and sent again; an op too
//! large on its own goes back to its session, which sends its bytes in smaller ops (§6.3). The
//! decisions are `seqtun_wire::client::body_cap`'s.

use std::sync::Arc;

use seqtun_wire::BatchResponse;
use seqtun_wire::client::Batch;
use seqtun_wire::client::body_cap::{
    self, Repacked, is_relay_too_large, is_too_large_status, repack,
};
use seqtun_wire::client::relay_body::RelayError;

use super::{Relays, Route, send};
use crate::transport::TransportError;

/// What `tokio::time::timeout(…, transport.send(…))` produced.
type Outcome = Result<Result<BatchResponse, TransportError>, tokio::time::error::Elapsed>;

/// True when the answer says the request body was too large and nothing ran.
pub fn too_large(outcome: &Outcome) -> bool {
    match outcome {
        Ok(Ok(resp)) => is_relay_too_large(resp),
        Ok(Err(TransportError::Relay {
            source: RelayError::Status { status, .. },
            ..
        })) => is_too_large_status(*status),
        _ => false,
    }
}

/// Lowers the cap below `body` bytes, answers the ops that must go back to their sessions, and
/// sends the rest again in batches that fit.
pub fn repack_and_resend(relays: &Arc<Relays>, batch: Batch<Route>, body: usize) {
    let overhead = relays.sizes.overhead;
    let cap = relays.sizes.refused(body);
    tracing::info!(
        refused = body,
        ops = batch.len(),
        cap,
        "the node refused a {body}-byte request as too large (HTTP 413); nothing ran, sending \
         it again in requests of at most {cap} bytes"
    );
    let Repacked {
        parts,
        too_large,
        refused,
    } = repack(batch, cap, overhead);
    for (op, route) in too_large {
        route.deliver(Err(body_cap::too_large(&op, cap, overhead)));
    }
    for (op, route) in refused {
        let failure = body_cap::refused(&op, body);
        tracing::warn!("{failure}");
        route.deliver(Err(failure));
    }
    for part in parts {
        tokio::spawn(send(Arc::clone(relays), part));
    }
}
