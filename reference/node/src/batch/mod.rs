//! One batch (§5.3): dispatch every op in order, wait, drain, and answer every op in place.
//!
//! Phase 1 walks the ops in order: connects start concurrently, un-seq'd writes happen inline
//! (so their order is the batch order), seq'd ops become jobs, and a `close` runs at its
//! position unless an earlier op of the batch still has to drain that session. Phase 2 waits
//! (short when the batch wrote, a long-poll when it only polled), drains, runs the deferred
//! closes, and returns exactly one reply per op: `len(r) == len(ops)` whatever fails (§3.5).

pub mod drain;
pub mod seq;

use std::collections::HashSet;
use std::sync::Arc;

use seqtun_wire::probe::ParsedOp;
use seqtun_wire::reply::OpError;
use seqtun_wire::{BatchOp, OpKind, Reply};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::drain::{BatchCtx, tcp_reply, udp_reply};
use self::seq::SeqJob;
use crate::NodeState;
use crate::exchange;
use crate::ops::{close, connect, data, sid, udp};
use crate::watch::{Watched, add_unique, settle};

/// What a spawned connect-like op produced.
enum Opened {
    Reply(Reply),
    /// `connect_data` / `udp_open`: drained like a data op; `caps` on the TCP reply.
    Drain(Watched),
}

/// Runs one authenticated batch and returns its `r`. The ops come parsed (routes parses them
/// key-first, `seqtun_wire::probe`): each with the `seq` it carries, for the echo of a bad op.
pub async fn run_batch(state: &Arc<NodeState>, ops: Vec<ParsedOp>) -> Vec<Reply> {
    let n = ops.len();
    let limit = state.cfg.params.max_batch_ops;
    if n > limit {
        return vec![Reply::from(OpError::TooManyOps { count: n, limit }); n];
    }
    let legacy = state.cfg.legacy;
    let echo = |seq: Option<u64>| if legacy { None } else { seq };
    if state.cfg.faults.whole_batch_type_errors
        && let Some(e) = ops.iter().find_map(|(_, op)| op.as_ref().err())
    {
        return vec![whole_batch_failure(e)];
    }
    let faults = &state.cfg.faults;
    let active = ops
        .iter()
        .any(|(_, op)| op.as_ref().is_ok_and(|op| is_active(op, legacy)));
    let ctx = Arc::new(BatchCtx::new(state, active));

    let mut out: Vec<Option<Reply>> = vec![None; n];
    let mut opening: Vec<(usize, JoinHandle<Opened>)> = Vec::new();
    let mut drains: Vec<(usize, Watched, bool)> = Vec::new();
    let mut jobs: Vec<(usize, SeqJob)> = Vec::new();
    let mut deferred_closes: Vec<(usize, BatchOp)> = Vec::new();
    let mut pending_sids: HashSet<String> = HashSet::new();

    for (idx, (seq, parsed)) in ops.into_iter().enumerate() {
        let op = match parsed {
            Ok(op) => op,
            Err(e) => {
                out[idx] = Some(Reply::from(e).with_seq(echo(seq)));
                continue;
            }
        };
        match op.kind() {
            OpKind::Connect | OpKind::ConnectData | OpKind::UdpOpen => {
                let state = Arc::clone(state);
                opening.push((idx, exchange::spawn(async move { open(&state, op).await })));
            }
            OpKind::Data if op.seq.is_some() && !legacy => {
                let seq = op.seq.unwrap_or_default();
                match sid(&op) {
                    Ok(sid) => {
                        pending_sids.insert(sid.to_string());
                        jobs.push((
                            idx,
                            SeqJob {
                                session: state.table.tcp(sid),
                                sid: sid.to_string(),
                                seq,
                                d: op.d,
                            },
                        ));
                    }
                    Err(e) => {
                        let echo = (!faults.no_seq_on_missing_sid).then_some(seq);
                        out[idx] = Some(Reply::from(e).with_seq(echo));
                    }
                }
            }
            OpKind::Data => match data::legacy_data(state, &op).await {
                Ok(s) => {
                    pending_sids.insert(s.sid.clone());
                    drains.push((idx, Watched::Tcp(s), false));
                }
                Err(r) => out[idx] = Some(r),
            },
            OpKind::UdpData => match udp::udp_data(state, &op).await {
                Ok(s) => {
                    pending_sids.insert(s.sid.clone());
                    drains.push((idx, Watched::Udp(s), false));
                }
                Err(r) => out[idx] = Some(r),
            },
            OpKind::Close => {
                let defer = op.sid.as_ref().is_some_and(|s| pending_sids.contains(s));
                if defer && !faults.close_before_data {
                    deferred_closes.push((idx, op));
                } else {
                    out[idx] = Some(close::close(state, &op).await);
                }
            }
            OpKind::Unknown(name) => {
                out[idx] = Some(Reply::from(OpError::UnknownOp(name.to_string())));
            }
        }
    }

    // Phase 2: connects finish first, then every drain and job runs against one watch set.
    for (idx, task) in opening {
        match task.await {
            Ok(Opened::Reply(r)) => out[idx] = Some(r),
            Ok(Opened::Drain(w)) => drains.push((idx, w, true)),
            Err(e) => out[idx] = Some(OpError::Internal(e.to_string()).into()),
        }
    }
    let mut watch_set = Vec::new();
    for (_, w, _) in &drains {
        add_unique(&mut watch_set, w.clone());
    }
    for (_, job) in &jobs {
        if let Some(s) = &job.session {
            add_unique(&mut watch_set, Watched::Tcp(Arc::clone(s)));
        }
    }
    let watch_set = Arc::new(watch_set);
    let running: Vec<(usize, u64, JoinHandle<Reply>)> = jobs
        .into_iter()
        .map(|(idx, job)| {
            let seq = job.seq;
            let task = seq::run(
                Arc::clone(state),
                Arc::clone(&ctx),
                Arc::clone(&watch_set),
                job,
            );
            (idx, seq, exchange::spawn(task))
        })
        .collect();

    if !drains.is_empty() {
        let deadline = Instant::now() + state.cfg.params.drain_deadline(active);
        let woke = ctx.wait_batch(&watch_set, deadline).await;
        if woke && active {
            let mine: Vec<Watched> = drains.iter().map(|(_, w, _)| w.clone()).collect();
            settle(&mine, &state.cfg.params).await;
        }
        for (idx, w, opened) in &drains {
            let reply = match w {
                // NODE-MAIN's drain loop stops at an empty budget: no entry at all (E-1).
                Watched::Tcp(_) if faults.budget_gap && ctx.budget_left() == 0 => continue,
                Watched::Tcp(s) => {
                    let r = tcp_reply(state, &ctx, s).await;
                    let caps = *opened && !faults.no_caps_on_batched_connect_data;
                    if caps { r.with_caps(state.caps()) } else { r }
                }
                Watched::Udp(s) => udp_reply(state, s),
            };
            out[*idx] = Some(reply);
        }
    }
    for (idx, seq, task) in running {
        out[idx] = Some(match task.await {
            Ok(r) => r,
            Err(e) => Reply::from(OpError::Internal(e.to_string())).with_seq(Some(seq)),
        });
    }
    for (idx, op) in deferred_closes {
        out[idx] = Some(close::close(state, &op).await);
    }
    finish(state, out)
}

/// What a deployed node answers when serde fails on one op: the whole batch, one entry.
fn whole_batch_failure(e: &OpError) -> Reply {
    let text = e.to_string();
    let detail = text.strip_prefix("bad op: ").unwrap_or(&text);
    Reply {
        e: Some(format!("bad json: {detail}")),
        ..Reply::default()
    }
}

/// Fills any slot nothing answered (it cannot happen, but an empty slot would shift every
/// later reply onto the wrong op) and applies the mutant faults.
fn finish(state: &NodeState, out: Vec<Option<Reply>>) -> Vec<Reply> {
    let gap = state.cfg.faults.budget_gap;
    let mut r: Vec<Reply> = out
        .into_iter()
        .filter(|slot| slot.is_some() || !gap)
        .map(|slot| slot.unwrap_or_else(|| OpError::Internal("op produced no reply".into()).into()))
        .collect();
    let faults = &state.cfg.faults;
    if faults.no_seq_echo {
        r.iter_mut().for_each(|reply| reply.seq = None);
    }
    if faults.short_replies && r.len() > 1 {
        r.pop();
    }
    r
}

async fn open(state: &NodeState, op: BatchOp) -> Opened {
    let result = match op.kind() {
        OpKind::Connect => return Opened::Reply(connect::connect(state, &op).await),
        OpKind::ConnectData => connect::connect_data(state, &op).await.map(Watched::Tcp),
        _ => udp::udp_open(state, &op).await.map(Watched::Udp),
    };
    match result {
        Ok(w) => Opened::Drain(w),
        Err(r) => Opened::Reply(r),
    }
}

/// Whether an op makes its batch active: a connect, or a write of at least one byte (§5.3).
fn is_active(op: &BatchOp, legacy: bool) -> bool {
    match op.kind() {
        OpKind::Connect | OpKind::ConnectData => true,
        OpKind::UdpOpen => op.has_payload(),
        OpKind::Data if op.seq.is_some() && !legacy => op.has_payload(),
        OpKind::Data | OpKind::UdpData => op.payload().is_ok_and(|b| !b.is_empty()),
        OpKind::Close | OpKind::Unknown(_) => false,
    }
}
