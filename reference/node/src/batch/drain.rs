//! What every op of one batch shares while it runs: the response budget (the planner's
//! [`Ledger`]) and the batch wait, which any wait of the batch can end for all (§5.3).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use seqtun_wire::node::{Ledger, TcpDrain};
use seqtun_wire::rules::Spent;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::tcp::TcpSession;
use crate::watch::{Watched, wait_any};
use crate::{NodeState, lock};

/// Shared by the batch's phase-2 wait and its seq'd ops.
pub struct BatchCtx {
    ledger: Mutex<Ledger>,
    /// `false`: pure polls sit out their deadline whatever is ready (a mutant).
    wake_on_ready: bool,
    /// Some wait of this batch saw a session ready. Set once, never cleared: the waits of one
    /// batch run concurrently, and the op that saw its session ready may drain it before a
    /// sibling looks, so readiness alone would leave the sibling parked until its deadline.
    woken: AtomicBool,
    wake: Notify,
}

impl BatchCtx {
    pub fn new(ledger: Ledger, wake_on_ready: bool) -> Self {
        Self {
            ledger: Mutex::new(ledger),
            wake_on_ready,
            woken: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Waits until a session of `set` is ready, another wait of this batch has woken, or the
    /// deadline passes; true unless the deadline passed with nothing ready (§5.3: a poll is
    /// woken by any session of its batch).
    pub async fn wait_batch(&self, set: &[Watched], deadline: Instant) -> bool {
        if !self.wake_on_ready {
            tokio::time::sleep_until(deadline).await;
            return false;
        }
        let woken = self.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if self.woken.load(Ordering::Acquire) {
            return true;
        }
        let ready = tokio::select! {
            ready = wait_any(set, deadline) => ready,
            () = woken => true,
        };
        if ready {
            self.woken.store(true, Ordering::Release);
            self.wake.notify_waiters();
        }
        ready
    }
}

/// What a TCP drain took, owned until its reply is built.
pub enum Took {
    Closed,
    Omitted,
    Bytes(Bytes, bool),
}

impl Took {
    /// The outcome as the planner reads it.
    pub fn outcome(&self) -> TcpDrain<'_> {
        match self {
            Took::Closed => TcpDrain::Closed,
            Took::Omitted => TcpDrain::Omitted,
            Took::Bytes(bytes, eof) => TcpDrain::Bytes { bytes, eof: *eof },
        }
    }
}

/// Drains a TCP session within the per-drain cap and what is left of the batch budget, when
/// the drain happens (§5.4). A session that reports eof here is removed from the table.
pub async fn drain_tcp(
    state: &NodeState,
    ctx: &BatchCtx,
    s: &std::sync::Arc<TcpSession>,
    touch: bool,
    spent: Spent,
) -> Took {
    let Some(allowance) = lock(&ctx.ledger).grant(spent) else {
        return Took::Omitted;
    };
    if s.is_closed() {
        lock(&ctx.ledger).settle(allowance, 0);
        return Took::Closed;
    }
    if touch {
        s.touch();
    }
    let (bytes, eof) = s.drain(allowance);
    lock(&ctx.ledger).settle(allowance, bytes.len());
    if eof {
        state.table.finish_tcp(s).await;
    }
    Took::Bytes(bytes, eof)
}
