//! Seq'd `data` ops (§7.4): each runs as its own task that takes its turn at the session's seq
//! gate, then writes, waits and drains while holding the turn, and passes the turn on however
//! it ends.

use std::sync::Arc;

use seqtun_wire::Reply;
use seqtun_wire::b64;
use seqtun_wire::reply::OpError;
use seqtun_wire::seq_gate::{Arrival, Turn};
use tokio::time::{Instant, sleep_until};

use super::drain::{BatchCtx, tcp_reply};
use crate::stats::NodeStats;
use crate::tcp::{TcpSession, WriteError};
use crate::watch::{Watched, settle, wait_any};
use crate::{NodeState, lock};

/// One seq'd op, with its session looked up at dispatch time (so `[close, data]` in one batch
/// sees the session already gone).
pub struct SeqJob {
    pub sid: String,
    pub seq: u64,
    pub d: Option<String>,
    pub session: Option<Arc<TcpSession>>,
}

/// Why an op never got its turn.
enum Refused {
    Op(OpError),
    Gone,
}

/// Passes the turn on when dropped, on every exit path (including a panic), so a failed op
/// never strands its successors.
struct TurnGuard<'a> {
    s: &'a TcpSession,
    seq: u64,
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        lock(&self.s.gate).finish(self.seq);
        self.s.turn_passed.notify_waiters();
    }
}

pub async fn run(
    state: Arc<NodeState>,
    ctx: Arc<BatchCtx>,
    batch_set: Arc<Vec<Watched>>,
    job: SeqJob,
) -> Reply {
    let Some(s) = job.session.clone() else {
        return Reply::gone(&job.sid).with_seq(Some(job.seq));
    };
    let faults = &state.cfg.faults;
    if faults.unordered_writes {
        return process(&state, &ctx, &batch_set, &s, &job).await;
    }
    // NODE-903 decodes before it queues for the turn: a bad payload never takes it (E-13).
    if faults.bad_base64_keeps_seq
        && let Some(Err(e)) = job.d.as_deref().map(b64::decode)
    {
        return Reply::from(OpError::BadBase64(e.to_string())).with_seq(Some(job.seq));
    }
    let early = if faults.unordered_drains {
        Some(tcp_reply(&state, &ctx, &s).await)
    } else {
        None
    };
    match wait_turn(&state.stats, &s, job.seq, !faults.no_poll_preemption).await {
        Ok(()) => {}
        Err(Refused::Gone) => return Reply::gone(&job.sid).with_seq(Some(job.seq)),
        Err(Refused::Op(e)) => return Reply::from(e).with_seq(Some(job.seq)),
    }
    let _turn = TurnGuard {
        s: &s,
        seq: job.seq,
    };
    if let Some(early) = early {
        if let Ok(bytes) = job.d.as_deref().map(b64::decode).transpose() {
            let _ = s.write(&bytes.unwrap_or_default()).await;
        }
        return early.with_seq(Some(job.seq));
    }
    process(&state, &ctx, &batch_set, &s, &job).await
}

async fn wait_turn(
    stats: &NodeStats,
    s: &TcpSession,
    seq: u64,
    preemption: bool,
) -> Result<(), Refused> {
    let arrival = lock(&s.gate).arrive(seq, Instant::now().into_std());
    match arrival {
        Arrival::Run => return Ok(()),
        Arrival::Duplicate { expected } => {
            return Err(Refused::Op(OpError::SeqDuplicate { seq, expected }));
        }
        Arrival::InProgress { expected } => {
            return Err(Refused::Op(OpError::SeqInProgress { seq, expected }));
        }
        Arrival::Backlog { limit } => return Err(Refused::Op(OpError::SeqBacklog { seq, limit })),
        Arrival::Wait { preempt, .. } => {
            stats.seq_wait();
            if preempt && preemption {
                stats.preemption();
                s.preempt.notify_waiters();
            }
        }
    }
    loop {
        let passed = s.turn_passed.notified();
        tokio::pin!(passed);
        passed.as_mut().enable();
        if s.is_closed() {
            return Err(Refused::Gone);
        }
        let turn = lock(&s.gate).poll(seq, Instant::now().into_std());
        match turn {
            Turn::Run => return Ok(()),
            Turn::TimedOut { expected, waited } => {
                return Err(Refused::Op(OpError::SeqTimeout {
                    seq,
                    expected,
                    waited,
                }));
            }
            Turn::Wait { deadline } => {
                tokio::select! {
                    () = passed => {}
                    () = sleep_until(Instant::from_std(deadline)) => {}
                }
            }
        }
    }
}

/// Write → wait → drain, holding the turn.
async fn process(
    state: &NodeState,
    ctx: &BatchCtx,
    batch_set: &[Watched],
    s: &Arc<TcpSession>,
    job: &SeqJob,
) -> Reply {
    let echo = Some(job.seq);
    let active = job.d.as_deref().is_some_and(|d| !d.is_empty());
    if active || !state.cfg.faults.tcp_polls_do_not_refresh {
        s.touch();
    }
    // Decoded only now, holding the turn: a bad payload still consumes its seq, so the
    // session does not stall behind it (§7.5, unlike deployed #903 nodes).
    let bytes = match job.d.as_deref().map(b64::decode).transpose() {
        Ok(bytes) => bytes.unwrap_or_default(),
        Err(e) => return Reply::from(OpError::BadBase64(e.to_string())).with_seq(echo),
    };
    if s.is_closed() {
        return Reply::gone(&s.sid).with_seq(echo);
    }
    if !bytes.is_empty() {
        match s.write(&bytes).await {
            Ok(()) => {}
            Err(WriteError::Closed) => return Reply::gone(&s.sid).with_seq(echo),
            Err(WriteError::Io(e)) => {
                return Reply::from(OpError::WriteFailed(e.to_string())).with_seq(echo);
            }
        }
    }
    let params = &state.cfg.params;
    if active {
        // An active op waits for its own session only: a sibling's bytes must not cut short
        // the wait for this op's answer.
        let own = [Watched::Tcp(Arc::clone(s))];
        let watched = if state.cfg.faults.active_op_waits_on_batch {
            batch_set
        } else {
            &own[..]
        };
        if wait_any(watched, Instant::now() + params.active_drain_deadline).await {
            settle(&own, params).await;
        }
    } else {
        idle_wait(state, ctx, batch_set, s, job.seq).await;
    }
    tcp_reply(state, ctx, s).await.with_seq(echo)
}

/// An idle poll parks until any session of its batch is ready, its deadline passes, or a later
/// seq of its own session arrives (poll preemption, §7.7).
async fn idle_wait(
    state: &NodeState,
    ctx: &BatchCtx,
    batch_set: &[Watched],
    s: &TcpSession,
    seq: u64,
) {
    let deadline = Instant::now() + state.cfg.params.drain_deadline(ctx.active);
    if state.cfg.faults.no_poll_preemption {
        // NODE-903: the poll stays parked whatever waits behind it (E-19).
        ctx.wait_batch(batch_set, deadline).await;
        return;
    }
    let preempted = s.preempt.notified();
    tokio::pin!(preempted);
    preempted.as_mut().enable();
    if !lock(&s.gate).park(seq) {
        return;
    }
    tokio::select! {
        _ = ctx.wait_batch(batch_set, deadline) => {}
        () = preempted => {}
    }
    lock(&s.gate).unpark(seq);
}
