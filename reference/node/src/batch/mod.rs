//! The batch executor (§5.3): performs the I/O that `seqtun_wire::node`'s planner names, and
//! reports back what it found. Every protocol decision (which ops run when, when a close
//! waits, what each outcome answers, where faults apply) is the planner's; this module only
//! dials, looks up, writes, waits and drains, so it can stay the same while the rules change.
//!
//! Adding an op that needs new I/O means one more [`Step`] (or [`JobStep`]) arm here; an op
//! that maps onto existing actions needs none (DEVELOPERS.md, "Adding an op").
//!
//! [`JobStep`]: seqtun_wire::node::JobStep

pub mod drain;
pub mod job;
pub mod open;

use std::collections::HashMap;
use std::sync::Arc;

use seqtun_wire::node::{BatchPlan, Phase2, Start, Step, plan};
use seqtun_wire::ops::Transport;
use seqtun_wire::reply::OpError;
use seqtun_wire::{Op, Reply};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::drain::{BatchCtx, drain_tcp};
use crate::NodeState;
use crate::exchange;
use crate::watch::{Watched, add_unique, settle};

/// Sessions the batch holds, by slot: what phase-1 lookups and opens found.
type Held = HashMap<usize, Watched>;

/// Runs one authenticated batch and returns its `r`.
pub async fn execute(state: &Arc<NodeState>, ops: Vec<Op>) -> Vec<Reply> {
    let mut plan = match plan(ops, &state.cfg.params, &state.rules) {
        Start::Answered(r) => return r,
        Start::Plan(plan) => plan,
    };
    let mut held = Held::new();
    let opening = phase1(state, &mut plan, &mut held).await;
    // Phase 2 begins when every open has finished (§5.3).
    for (slot, task) in opening {
        let result = match task.await {
            Ok(result) => result,
            Err(e) => Err(OpError::Internal(e.to_string())),
        };
        let sid = result.map(|w| {
            let sid = w.sid().to_string();
            held.insert(slot, w);
            sid
        });
        plan.opened(slot, sid);
    }
    phase2(state, &mut plan, held).await;
    plan.finish()
}

type Opening = Vec<(usize, JoinHandle<Result<Watched, OpError>>)>;

/// Walks the phase-1 steps in op order; opens run concurrently and are returned.
async fn phase1(state: &Arc<NodeState>, plan: &mut BatchPlan, held: &mut Held) -> Opening {
    let mut opening = Vec::new();
    while let Some(step) = plan.next_step() {
        match step {
            Step::Open { slot, open } => {
                let state = Arc::clone(state);
                opening.push((
                    slot,
                    exchange::spawn(async move { open::open(&state, open).await }),
                ));
            }
            Step::Write {
                slot,
                transport,
                sid,
                touch,
                bytes,
            } => {
                let live = write_inline(state, transport, &sid, touch, &bytes).await;
                plan.found(slot, live.is_some());
                held.extend(live.map(|w| (slot, w)));
            }
            Step::FindJob { slot, sid } => {
                let live = state.table.tcp(&sid);
                plan.found(slot, live.is_some());
                held.extend(live.map(|s| (slot, Watched::Tcp(s))));
            }
            Step::Close { sid, .. } => state.table.close(&sid).await,
        }
    }
    opening
}

/// An un-seq'd write (§5.3): inline, so un-seq'd writes reach the upstream in batch order. A
/// failed write is only logged, as deployed: it surfaces as eof once the reader sees it.
async fn write_inline(
    state: &NodeState,
    transport: Transport,
    sid: &str,
    touch: bool,
    bytes: &[u8],
) -> Option<Watched> {
    let session = match transport {
        Transport::Tcp => Watched::Tcp(state.table.tcp(sid)?),
        Transport::Udp => Watched::Udp(state.table.udp(sid)?),
    };
    if touch {
        session.touch();
    }
    if !bytes.is_empty()
        && let Err(e) = session.send(bytes).await
    {
        tracing::debug!(%sid, error = %e, "uplink write failed");
    }
    Some(session)
}

/// Waits, drains, runs the seq'd ops and the deferred closes (§5.3 phase 2).
async fn phase2(state: &Arc<NodeState>, plan: &mut BatchPlan, mut held: Held) {
    let Phase2 {
        wait,
        wake_on_ready,
        drains,
        jobs,
        closes,
        ledger,
    } = plan.phase2();
    let ctx = Arc::new(BatchCtx::new(ledger, wake_on_ready));
    let mine: Vec<Watched> = drains
        .iter()
        .filter_map(|d| held.get(&d.slot).cloned())
        .collect();
    let mut batch_set = Vec::new();
    let job_sessions = jobs.iter().filter_map(|(slot, _)| held.get(slot).cloned());
    for w in mine.iter().cloned().chain(job_sessions) {
        add_unique(&mut batch_set, w);
    }
    let batch_set = Arc::new(batch_set);
    let running: Vec<_> = jobs
        .into_iter()
        .filter_map(|(slot, seq_job)| {
            let Some(Watched::Tcp(s)) = held.remove(&slot) else {
                return None;
            };
            let seq = seq_job.seq();
            let task = job::run(
                Arc::clone(state),
                Arc::clone(&ctx),
                Arc::clone(&batch_set),
                s,
                seq_job,
            );
            Some((slot, seq, exchange::spawn(task)))
        })
        .collect();
    if let Some(wait) = wait {
        let woke = ctx
            .wait_batch(&batch_set, Instant::now() + wait.within)
            .await;
        if wait.settles(woke) {
            settle(&mine, &state.cfg.params).await;
        }
        for d in drains {
            match held.get(&d.slot) {
                Some(Watched::Tcp(s)) => {
                    let took = drain_tcp(state, &ctx, s, d.touch, d.spent).await;
                    plan.tcp_drained(d.slot, took.outcome());
                }
                Some(Watched::Udp(s)) => {
                    let (pkts, eof) = s.drain();
                    if eof {
                        state.table.finish_udp(s);
                    }
                    plan.udp_drained(d.slot, &pkts, eof);
                }
                None => {}
            }
        }
    }
    for (slot, seq, task) in running {
        match task.await {
            Ok(reply) => plan.job_done(slot, reply),
            Err(e) => plan.job_lost(slot, seq, &e.to_string()),
        }
    }
    for (_, sid) in closes {
        state.table.close(&sid).await;
    }
}
