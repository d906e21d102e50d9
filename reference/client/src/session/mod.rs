//! One tunnelled connection: open it at the node (§6.2), run its data loop (§6.5, §7.8), and
//! always send `close` at the end.

mod open;
mod pump;

use std::sync::Arc;

use seqtun_wire::BatchOp;
use seqtun_wire::client::{ClientFaults, ClientParams, End, StickyFlag};

use crate::front::{Accepted, Sessions};
use crate::health::Health;
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
    /// Whether the relay path and the target make an early "connected" safe (§6.7).
    pub health: Arc<Health>,
    /// Sessions open at the node, so a shutdown can close them there.
    pub open: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Ctx {
    /// The sids of the sessions open at the node now.
    pub fn open_sids(&self) -> Vec<String> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn track(&self, sid: &str, open: bool) {
        let mut set = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open {
            set.insert(sid.to_string());
        } else {
            set.remove(sid);
        }
    }
}

impl Sessions for Ctx {
    fn socks_auth(&self) -> Option<&(String, String)> {
        self.socks_auth.as_ref()
    }

    fn handshake_timeout(&self) -> std::time::Duration {
        self.handshake_timeout
    }

    fn run(self: Arc<Self>, acc: Accepted) -> impl Future<Output = ()> + Send {
        run(self, acc)
    }
}

/// Runs one accepted connection to its end.
pub async fn run(ctx: Arc<Ctx>, acc: Accepted) {
    add(&ctx.stats.active_sessions, 1);
    // Lowered however the session ends, a shutdown's abort included; its sid stays tracked
    // then, so the shutdown closes it at the node.
    let _active = Active(&ctx.stats);
    add(&ctx.stats.sessions, 1);
    ctx.stats.front_session(acc.front);
    let target = format!("{}:{}", acc.target.host, acc.target.port);
    match open::open(&ctx, acc).await {
        Ok(opened) => {
            let sid = opened.sid.clone();
            ctx.track(&sid, true);
            let end = pump::pump(&ctx, opened).await;
            match &end {
                End::AppDone | End::AppGone | End::Eof => {
                    tracing::debug!(%target, %sid, "session ended: {end}");
                }
                // A failed batch, a node error or a watchdog ended a session the app did not
                // end: that deserves a line of its own.
                _ => tracing::info!(%target, %sid, "session ended: {end}"),
            }
            // Fire and forget: the reply says nothing the session still needs.
            ctx.mux.submit(BatchOp::close(&sid), Route::Ignore).await;
            ctx.track(&sid, false);
        }
        Err(e) => {
            ctx.stats.open_failed();
            tracing::info!(%target, "session not opened: {e}");
        }
    }
}

struct Active<'a>(&'a Stats);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        sub(&self.0.active_sessions, 1);
    }
}
