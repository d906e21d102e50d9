//! The data loop of an open session: the wire's [`Pipeline`] decides, this loop waits on the
//! app, the replies, the next poll and the watchdog, whichever comes first.

use std::io;

use seqtun_wire::client::{End, Event, Pipeline, PollDue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::Ctx;
use super::open::Opened;
use crate::mux::{Route, now};
use crate::stats::{add, sub};

/// App bytes are read in chunks of this size, up to the op limit per op.
const READ_CHUNK: usize = 64 << 10;

/// Runs the session until it ends; returns why.
pub async fn pump(ctx: &Ctx, opened: Opened) -> End {
    let Opened {
        stream,
        sid,
        mode,
        replay_safe,
        replay,
        finished,
    } = opened;
    let (mut rd, mut wr) = stream.into_split();
    if finished {
        let _ = wr.shutdown().await;
        return End::Eof;
    }
    let mut p = Pipeline::new(mode, &ctx.params, &ctx.faults, now());
    if replay_safe {
        p.make_replay_safe(ctx.params.retry);
    }
    let sizes = &ctx.mux.sizes;
    p.assume_accepted(sizes.proven_payload(&sid));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let route = |token| Route::Session {
        tx: tx.clone(),
        token,
    };
    let send = |p: &mut Pipeline, bytes: &[u8]| {
        let prompt = p.is_prompt(bytes);
        let (token, op) = p.send(&sid, bytes, now());
        let route = route(token);
        async move { ctx.mux.submit_paced(op, route, prompt).await }
    };
    // The first bytes of a `connect_data` the node could not take go as the first data ops.
    let mut replay = replay;
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut app_gone = false;
    let mut write_failed = false;
    // What this session adds to the client's held-bytes gauge, taken back when it ends.
    let mut held = 0u64;
    let end = loop {
        if let Some(end) = p.end() {
            break end.clone();
        }
        // Ops are sized to what one request may carry now (§6.3); the cap only shrinks.
        let max = ctx
            .params
            .max_data_op_bytes
            .min(sizes.max_payload(&sid))
            .max(1);
        p.accepted(sizes.proven_payload(&sid));
        if !replay.is_empty() && p.can_send_bytes() {
            let chunk: Vec<u8> = replay.drain(..max.min(replay.len())).collect();
            add(&ctx.stats.bytes_up, chunk.len() as u64);
            if !send(&mut p, &chunk).await {
                break End::Failed("the client is shutting down".into());
            }
            continue;
        }
        if let Some(chunk) = p.take_pending(max) {
            if !send(&mut p, &chunk).await {
                break End::Failed("the client is shutting down".into());
            }
            continue;
        }
        let poll_at = match p.poll_due() {
            PollDue::Now => {
                if !send(&mut p, &[]).await {
                    break End::Failed("the client is shutting down".into());
                }
                continue;
            }
            PollDue::At(at) => Some(TokioInstant::from_std(at)),
            PollDue::Never => None,
        };
        let watchdog = p.deadline().map(TokioInstant::from_std);
        let can_read = p.can_send_bytes() && !p.has_pending() && replay.is_empty() && !app_gone;
        tokio::select! {
            biased;
            Some((token, result)) = rx.recv() => {
                let events = p.on_reply(token, result, now());
                let now_held = p.held_bytes() as u64;
                add(&ctx.stats.held_bytes, now_held);
                sub(&ctx.stats.held_bytes, held);
                held = now_held;
                for (token, op) in p.take_resends() {
                    ctx.mux.submit_paced(op, route(token), true).await;
                }
                if p.take_downgrade() {
                    add(&ctx.stats.downgrades, 1);
                    if ctx.pipelining_disabled.set() {
                        tracing::warn!("a pipelined reply came back without seq: a node on the path does not order seq'd ops; new sessions use the legacy loop until restart");
                    }
                }
                for Event::Write(bytes) in events {
                    add(&ctx.stats.bytes_down, bytes.len() as u64);
                    if wr.write_all(&bytes).await.is_err() {
                        write_failed = true;
                        break;
                    }
                }
            }
            read = read_some(&mut rd, &mut buf, max), if can_read => match read {
                Ok(0) | Err(_) => {
                    app_gone = true;
                    p.on_app_eof();
                }
                Ok(_) => {
                    add(&ctx.stats.bytes_up, buf.len() as u64);
                    if !send(&mut p, &buf).await {
                        break End::Failed("the client is shutting down".into());
                    }
                }
            },
            () = sleep_until(poll_at), if poll_at.is_some() => {
                if matches!(p.poll_due(), PollDue::At(at) if at <= now()) && !send(&mut p, &[]).await {
                    break End::Failed("the client is shutting down".into());
                }
            }
            () = sleep_until(watchdog), if watchdog.is_some() => {
                // The watchdog also fires retries that are due (§7.10).
                p.on_tick(now());
                for (token, op) in p.take_resends() {
                    ctx.mux.submit(op, route(token)).await;
                }
            }
        }
        if write_failed {
            break End::AppGone;
        }
    };
    sub(&ctx.stats.held_bytes, held);
    add(&ctx.stats.retried_ops, p.retried());
    let _ = wr.shutdown().await;
    end
}

async fn sleep_until(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads what the app has available, up to `max` bytes: waits for the first chunk, then takes
/// whatever more is already buffered without waiting. Cancel-safe: nothing is consumed before
/// the only await completes.
async fn read_some(rd: &mut OwnedReadHalf, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    buf.clear();
    buf.resize(READ_CHUNK.min(max), 0);
    let n = rd.read(buf).await?;
    buf.truncate(n);
    if n == 0 {
        return Ok(0);
    }
    while buf.len() < max {
        let old = buf.len();
        buf.resize(old + READ_CHUNK.min(max - old), 0);
        match rd.try_read(&mut buf[old..]) {
            Ok(k) if k > 0 => buf.truncate(old + k),
            _ => {
                buf.truncate(old);
                break;
            }
        }
    }
    Ok(buf.len())
}
