//! One tunnelled connection: open it at the node (§6.2), run its data loop (§6.5, §7.8), and
//! always send `close` at the end.

mod open;
mod pump;

use std::sync::Arc;

use seqtun_wire::BatchOp;
use seqtun_wire::client::{ClientFaults, ClientParams, StickyFlag};

use crate::front::Accepted;
use crate::mux::{MuxHandle, Route};
use crate::stats::{Stats, add, sub};

/// What every session shares.
pub struct Ctx {
    pub params: ClientParams,
    pub faults: ClientFaults,
    pub mux: MuxHandle,
    pub stats: Arc<Stats>,
    pub socks_auth: Option<(String, String)>,
    pub handshake_timeout: std::time::Duration,
    /// A pipelined reply came back without `seq`: no new session pipelines (§7.8).
    pub pipelining_disabled: StickyFlag,
    /// `connect_data` was answered `UNSUPPORTED_OP`: sessions open with `connect` (§6.2).
    pub connect_data_unsupported: StickyFlag,
}

/// Runs one accepted connection to its end.
pub async fn run(ctx: Arc<Ctx>, acc: Accepted) {
    add(&ctx.stats.active_sessions, 1);
    add(&ctx.stats.sessions, 1);
    let target = format!("{}:{}", acc.target.host, acc.target.port);
    match open::open(&ctx, acc).await {
        Ok(opened) => {
            let sid = opened.sid.clone();
            let end = pump::pump(&ctx, opened).await;
            tracing::debug!(%target, %sid, "session ended: {end}");
            // Fire and forget: the reply says nothing the session still needs.
            ctx.mux.submit(BatchOp::close(&sid), Route::Ignore).await;
        }
        Err(e) => tracing::info!(%target, "session not opened: {e}"),
    }
    sub(&ctx.stats.active_sessions, 1);
}
