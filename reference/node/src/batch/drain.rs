//! Building drain replies against the batch's shared response budget (§5.3).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use seqtun_wire::Reply;
use seqtun_wire::drain::Budget;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::tcp::TcpSession;
use crate::udp::UdpSession;
use crate::watch::{Watched, wait_any};
use crate::{NodeState, lock};

/// What every op of one batch shares.
pub struct BatchCtx {
    /// The batch wrote or connected, so its waits are short (§5.3).
    pub active: bool,
    /// The `long_poll_ignores_readiness` mutant.
    deaf: bool,
    budget: Mutex<Budget>,
    /// Some wait of this batch saw a session ready. Set once, never cleared: the waits of one
    /// batch run concurrently, and the op that saw its session ready may drain it before a
    /// sibling looks, so readiness alone would leave the sibling parked until its deadline.
    woken: AtomicBool,
    wake: Notify,
}

impl BatchCtx {
    pub fn new(state: &NodeState, active: bool) -> Self {
        Self {
            active,
            deaf: state.cfg.faults.long_poll_ignores_readiness && !active,
            budget: Mutex::new(Budget::new(state.cfg.params.batch_budget)),
            woken: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Waits until a session of `set` is ready, another wait of this batch has woken, or the
    /// deadline passes; true unless the deadline passed with nothing ready (§5.3: a poll is
    /// woken by any session of its batch).
    pub async fn wait_batch(&self, set: &[Watched], deadline: Instant) -> bool {
        if self.deaf {
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

impl BatchCtx {
    /// Bytes the batch's drains may still return.
    pub fn budget_left(&self) -> usize {
        lock(&self.budget).remaining()
    }
}

/// Drains a TCP session within the per-drain cap and what is left of the batch budget. A
/// session that reports eof here is removed from the table.
pub async fn tcp_reply(state: &NodeState, ctx: &BatchCtx, s: &Arc<TcpSession>) -> Reply {
    if s.is_closed() {
        return Reply::gone(&s.sid);
    }
    // A poll that waited a long time still counts as activity when it answers (§5.1).
    if !state.cfg.faults.tcp_polls_do_not_refresh {
        s.touch();
    }
    let allowance = lock(&ctx.budget).reserve(state.cfg.params.tcp_drain_max);
    let (bytes, eof) = s.drain(allowance);
    lock(&ctx.budget).refund(allowance - bytes.len());
    if eof {
        state.table.finish_tcp(s).await;
    }
    Reply::drained(&s.sid, &bytes, eof)
}

/// Drains every queued datagram of a UDP session (no cap, as deployed: the queue is bounded).
pub fn udp_reply(state: &NodeState, s: &Arc<UdpSession>) -> Reply {
    let (pkts, eof) = s.drain();
    if eof {
        state.table.finish_udp(s);
    }
    Reply::datagrams(&s.sid, &pkts, eof)
}
