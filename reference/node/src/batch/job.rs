//! Runs one seq'd `data` op (§7.4): the wire's [`SeqJob`] names each step, this task performs
//! it on the session and its gate. The op holds its session's turn from the moment the gate
//! says so until it answers, however it ends (a [`TurnGuard`]), so a failed op never strands
//! its successors.

use std::sync::Arc;

use seqtun_wire::Reply;
use seqtun_wire::node::{JobInput, JobStep, SeqJob, WriteOutcome};
use seqtun_wire::rules::{Spent, Watch};
use seqtun_wire::seq_gate::{Arrival, Turn};
use tokio::time::{Duration, Instant, sleep_until};

use super::drain::{BatchCtx, drain_tcp};
use crate::tcp::{TcpSession, WriteError};
use crate::watch::{Watched, settle, wait_any};
use crate::{NodeState, lock};

/// Passes the turn on when dropped, on every exit path (including a panic).
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

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Runs `job` on session `s` until it answers.
pub async fn run(
    state: Arc<NodeState>,
    ctx: Arc<BatchCtx>,
    batch: Arc<Vec<Watched>>,
    s: Arc<TcpSession>,
    mut job: SeqJob,
) -> Reply {
    let seq = job.seq();
    let own = [Watched::Tcp(Arc::clone(&s))];
    let mut turn: Option<TurnGuard<'_>> = None;
    let mut step = job.step(JobInput::Start);
    loop {
        let input = match step {
            JobStep::Done(reply) => return reply,
            JobStep::Drain { touch } => {
                let took = drain_tcp(&state, &ctx, &s, touch, Spent::Placeholder).await;
                step = job.step(JobInput::Drained(took.outcome()));
                continue;
            }
            JobStep::Arrive => {
                let arrival = lock(&s.gate).arrive(seq, now());
                match arrival {
                    Arrival::Run => turn = Some(TurnGuard { s: &s, seq }),
                    Arrival::Wait { .. } => state.stats.seq_wait(),
                    _ => {}
                }
                JobInput::Arrived(arrival)
            }
            JobStep::Preempt => {
                state.stats.preemption();
                s.preempt.notify_waiters();
                JobInput::Performed
            }
            JobStep::PollTurn | JobStep::AwaitTurn { .. } => {
                step = take_turn(&s, &mut job, &mut turn).await;
                continue;
            }
            JobStep::Touch => {
                s.touch();
                JobInput::Performed
            }
            JobStep::Write(bytes) => JobInput::Wrote(write(&s, &bytes).await),
            JobStep::WriteBlind(bytes) => {
                let _ = s.write(&bytes).await;
                JobInput::Performed
            }
            JobStep::WaitActive { within, watch } => {
                let set = match watch {
                    Watch::Own => &own[..],
                    Watch::Batch => &batch[..],
                };
                JobInput::Woke(wait_any(set, Instant::now() + within).await)
            }
            JobStep::Settle => {
                settle(&own, &state.cfg.params).await;
                JobInput::Performed
            }
            JobStep::WaitIdle {
                within,
                preemptible,
            } => {
                park(&ctx, &batch, &s, seq, within, preemptible).await;
                JobInput::Performed
            }
        };
        step = job.step(input);
    }
}

/// Polls the gate until the op holds the turn or the machine gives up waiting; registers for
/// the turn-passed wake-up before each look so none is lost.
async fn take_turn<'a>(
    s: &'a TcpSession,
    job: &mut SeqJob,
    turn: &mut Option<TurnGuard<'a>>,
) -> JobStep {
    let seq = job.seq();
    loop {
        let passed = s.turn_passed.notified();
        tokio::pin!(passed);
        passed.as_mut().enable();
        let input = if s.is_closed() {
            JobInput::SessionClosed
        } else {
            let t = lock(&s.gate).poll(seq, now());
            if t == Turn::Run {
                *turn = Some(TurnGuard { s, seq });
            }
            JobInput::Turn(t)
        };
        match job.step(input) {
            JobStep::AwaitTurn { deadline } => tokio::select! {
                () = passed => {}
                () = sleep_until(Instant::from_std(deadline)) => {}
            },
            next => return next,
        }
    }
}

/// Writes unless the session is closed.
async fn write(s: &TcpSession, bytes: &[u8]) -> WriteOutcome {
    if s.is_closed() {
        return WriteOutcome::Closed;
    }
    if bytes.is_empty() {
        return WriteOutcome::Written;
    }
    match s.write(bytes).await {
        Ok(()) => WriteOutcome::Written,
        Err(WriteError::Closed) => WriteOutcome::Closed,
        Err(WriteError::Io(e)) => WriteOutcome::Failed(e.to_string()),
    }
}

/// An idle poll parks until any session of its batch is ready, its deadline passes, or (when
/// preemptible) a later seq of its own session arrives (§7.7).
async fn park(
    ctx: &BatchCtx,
    batch: &[Watched],
    s: &TcpSession,
    seq: u64,
    within: Duration,
    preemptible: bool,
) {
    let deadline = Instant::now() + within;
    if !preemptible {
        ctx.wait_batch(batch, deadline).await;
        return;
    }
    let preempted = s.preempt.notified();
    tokio::pin!(preempted);
    preempted.as_mut().enable();
    if !lock(&s.gate).park(seq) {
        return;
    }
    tokio::select! {
        _ = ctx.wait_batch(batch, deadline) => {}
        () = preempted => {}
    }
    lock(&s.gate).unpark(seq);
}
