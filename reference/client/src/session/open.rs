//! Opening a session (§6.2, §6.7).
//!
//! An app sends its first bytes only after its proxy said yes, so a session that wants to
//! carry them in `connect_data` (saving a whole relay round trip on every TLS connection) must
//! say yes first; a failure after that can only be reported by closing the connection (reset,
//! and logged). So the client says yes early only when an error is unlikely (the relay path
//! answered its last batch and the target has not failed recently, see [`crate::health`]).
//! Every other session (server-speaks-first ports, `connect_data` known unsupported,
//! `--first-data-wait-ms 0`, an unproven path, a recently failed target, or an HTTP CONNECT
//! whose app already sent bytes) answers the app after the node did, with the §6.1 code.

use std::time::Duration;

use seqtun_wire::client::negotiate::{
    connect_data_unsupported, open_plan, replay_safe, send_open_again, session_mode,
};
use seqtun_wire::client::replies::{OpFailure, OpResult};
use seqtun_wire::client::{FailureClass, Mode, OpenPlan};
use seqtun_wire::{BatchOp, Reply};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::Ctx;
use crate::front::Accepted;
use crate::mux::now;
use crate::stats::add;

/// A session the node accepted.
pub struct Opened {
    pub stream: TcpStream,
    pub sid: String,
    pub mode: Mode,
    /// The node holds replies for retransmits (§7.10): failed ops go again.
    pub replay_safe: bool,
    /// Bytes to send as the first `data` op (a `connect_data` fallback's first bytes).
    pub replay: Vec<u8>,
    /// The node already reported eof in its connect reply.
    pub finished: bool,
}

/// Why a session did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The node (or the relay path) said no.
    #[error("{0}")]
    Node(String),
    /// A batch failure on the way: the target's fate is unknown.
    #[error("{0}")]
    Batch(String),
    #[error("connect reply without a session id")]
    NoSid,
    #[error("the app went away: {0}")]
    App(std::io::Error),
    /// The app was answered with the real result.
    #[error("{why}; the app was answered {answer}")]
    Refused { answer: String, why: Box<OpenError> },
    /// The app had already been told "connected" (optimistic open), so its connection was
    /// reset; its next connection to this target waits for the node (§6.7).
    #[error(
        "{0}; the app had already been told the tunnel was open, so its connection was reset (the next connection to this target waits for the node's answer)"
    )]
    AfterGrant(Box<OpenError>),
}

pub async fn open(ctx: &Ctx, acc: Accepted) -> Result<Opened, OpenError> {
    let Accepted {
        mut stream,
        target,
        front,
        mut early,
        mut verdict,
    } = acc;
    let plan = open_plan(
        target.port,
        ctx.connect_data_unsupported.is_set(),
        ctx.params.first_data_wait,
        // Optimism is only a risk where it means telling the app "connected" early.
        ctx.health.may_grant_early(&target.host, target.port, now())
            || !front.can_grant_early()
            || !early.is_empty(),
    );
    // An HTTP CONNECT app that sent bytes with its request needs no early yes.
    // The plain proxy's request is written without any yes, and always waits for the node.
    let mut granted = false;
    if let OpenPlan::WaitFirstBytes(wait) = plan
        && early.is_empty()
    {
        if front.can_grant_early() {
            front.grant(&mut stream).await.map_err(OpenError::App)?;
            granted = true;
        }
        early = first_bytes(&mut stream, wait, ctx.params.max_data_op_bytes).await?;
    }
    let with_data = matches!(plan, OpenPlan::WaitFirstBytes(_)) && !early.is_empty();
    let (result, replay) = if with_data {
        let result = request_open(
            ctx,
            BatchOp::connect_data(&target.host, target.port, &early),
        )
        .await;
        let refused = matches!(result, Err(OpFailure::TooLarge { .. }));
        if refused || connect_data_unsupported(&result) {
            // A node that refused the request as too large ran nothing: the first bytes go
            // again as the first data ops, sized to fit (§6.3).
            if !refused && ctx.connect_data_unsupported.set() {
                tracing::info!(
                    "a hop does not support connect_data; sessions open with connect from now on"
                );
            }
            (
                request_open(ctx, BatchOp::connect(&target.host, target.port)).await,
                early,
            )
        } else {
            add(&ctx.stats.bytes_up, early.len() as u64);
            (result, Vec::new())
        }
    } else {
        (
            request_open(ctx, BatchOp::connect(&target.host, target.port)).await,
            early,
        )
    };
    let reply = match accepted(result) {
        Ok(reply) => {
            ctx.health.target_opened(&target.host, target.port);
            reply
        }
        Err((class, err)) => {
            if matches!(err, OpenError::Node(_)) {
                ctx.health.target_failed(&target.host, target.port, now());
            }
            return Err(if granted {
                // The app was told "connected": a reset is the most honest thing left.
                let _ = stream.set_zero_linger();
                OpenError::AfterGrant(Box::new(err))
            } else {
                match verdict.take() {
                    Some(tx) => {
                        let _ = tx.send(Err((class, err.to_string())));
                    }
                    None => {
                        let _ = front
                            .refuse(&mut stream, class, &format!("seqtun-client: {err}"))
                            .await;
                    }
                }
                OpenError::Refused {
                    answer: front.answer_text(class),
                    why: Box::new(err),
                }
            });
        }
    };
    if let Some(tx) = verdict.take() {
        let _ = tx.send(Ok(()));
    } else if !granted {
        front.grant(&mut stream).await.map_err(OpenError::App)?;
    }
    finish(ctx, stream, reply, replay).await
}

/// Sends an open op. Whether a failed one goes again is the wire crate's decision, and its
/// answer is never (§7.10); only the `retry_connects` mutant makes this a loop.
async fn request_open(ctx: &Ctx, op: BatchOp) -> OpResult {
    let mut attempts = 1;
    loop {
        let result = ctx.mux.request(op.clone()).await;
        if !send_open_again(&result, attempts, &ctx.faults) {
            return result;
        }
        attempts += 1;
    }
}

/// The reply of a successful open, or how to refuse the app.
fn accepted(result: OpResult) -> Result<Reply, (FailureClass, OpenError)> {
    match result {
        Ok(reply) => match (&reply.e, &reply.sid) {
            (Some(e), _) => Err((FailureClass::of_node_error(e), OpenError::Node(e.clone()))),
            (None, None) => Err((FailureClass::General, OpenError::NoSid)),
            (None, Some(_)) => Ok(reply),
        },
        Err(failure) => {
            let text = failure.to_string();
            Err((
                FailureClass::of_batch_failure(&text),
                OpenError::Batch(text),
            ))
        }
    }
}

async fn finish(
    ctx: &Ctx,
    mut stream: TcpStream,
    reply: Reply,
    replay: Vec<u8>,
) -> Result<Opened, OpenError> {
    let mode = session_mode(
        &reply,
        &ctx.params,
        ctx.pipelining_disabled.is_set(),
        &ctx.faults,
    );
    let replay_safe = replay_safe(&reply, mode, &ctx.params, &ctx.faults);
    if replay_safe {
        add(&ctx.stats.replay_safe_sessions, 1);
    }
    add(
        if mode.is_pipelined() {
            &ctx.stats.pipelined_sessions
        } else {
            &ctx.stats.legacy_sessions
        },
        1,
    );
    // From here on the node holds a session, so every path returns it to be closed.
    let mut finished = reply.is_eof();
    match reply.payload() {
        Ok(first) if !first.is_empty() => {
            add(&ctx.stats.bytes_down, first.len() as u64);
            if stream.write_all(&first).await.is_err() {
                finished = true;
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::info!("the node's first bytes are not valid base64: {e}");
            finished = true;
        }
    }
    Ok(Opened {
        stream,
        sid: reply.sid.unwrap_or_default(),
        mode,
        replay_safe,
        replay,
        finished,
    })
}

/// Waits up to `wait` for the app's first bytes (at most `max`); none is not an error.
async fn first_bytes(
    stream: &mut TcpStream,
    wait: Duration,
    max: usize,
) -> Result<Vec<u8>, OpenError> {
    let mut buf = vec![0u8; max.clamp(1, 64 << 10)];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Err(_) => Ok(Vec::new()),
        Ok(Ok(0)) => Err(OpenError::App(std::io::ErrorKind::UnexpectedEof.into())),
        Ok(Ok(n)) => {
            buf.truncate(n);
            Ok(buf)
        }
        Ok(Err(e)) => Err(OpenError::App(e)),
    }
}
