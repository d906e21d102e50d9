//! Opening a session (§6.2).
//!
//! An app sends its first bytes only after its proxy said yes, so a session that wants to
//! carry them in `connect_data` (saving a whole relay round trip on every TLS connection) must
//! say yes first; a failure after that can only be reported by closing the connection. A session
//! that opens with plain `connect` (server-speaks-first ports, `connect_data` known unsupported,
//! `--first-data-wait-ms 0`) answers the app after the node did, with the §6.1 code (§6.7).

use std::time::Duration;

use seqtun_wire::client::negotiate::{connect_data_unsupported, open_plan, session_mode};
use seqtun_wire::client::replies::{OpFailure, OpResult};
use seqtun_wire::client::{FailureClass, Mode, OpenPlan};
use seqtun_wire::{BatchOp, Reply};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::Ctx;
use crate::front::Accepted;
use crate::stats::add;

/// A session the node accepted.
pub struct Opened {
    pub stream: TcpStream,
    pub sid: String,
    pub mode: Mode,
    /// Bytes to send as the first `data` op (a `connect_data` fallback's first bytes).
    pub replay: Vec<u8>,
    /// The node already reported eof in its connect reply.
    pub finished: bool,
}

/// Why a session did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Node(String),
    #[error("connect reply without a session id")]
    NoSid,
    #[error("the app went away: {0}")]
    App(std::io::Error),
}

pub async fn open(ctx: &Ctx, acc: Accepted) -> Result<Opened, OpenError> {
    let Accepted {
        mut stream,
        target,
        front,
        mut early,
    } = acc;
    let plan = open_plan(
        target.port,
        ctx.connect_data_unsupported.is_set(),
        ctx.params.first_data_wait,
    );
    let granted = matches!(plan, OpenPlan::WaitFirstBytes(_));
    if let OpenPlan::WaitFirstBytes(wait) = plan {
        front.grant(&mut stream).await.map_err(OpenError::App)?;
        if early.is_empty() {
            early = first_bytes(&mut stream, wait, ctx.params.max_data_op_bytes).await?;
        }
    }
    let (result, replay) = if granted && !early.is_empty() {
        let result = ctx
            .mux
            .request(BatchOp::connect_data(&target.host, target.port, &early))
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
                ctx.mux
                    .request(BatchOp::connect(&target.host, target.port))
                    .await,
                early,
            )
        } else {
            add(&ctx.stats.bytes_up, early.len() as u64);
            (result, Vec::new())
        }
    } else {
        (
            ctx.mux
                .request(BatchOp::connect(&target.host, target.port))
                .await,
            early,
        )
    };
    let reply = match accepted(result) {
        Ok(reply) => reply,
        Err((class, err)) => {
            if !granted {
                let _ = front.refuse(&mut stream, class).await;
            }
            return Err(err);
        }
    };
    if !granted {
        front.grant(&mut stream).await.map_err(OpenError::App)?;
    }
    finish(ctx, stream, reply, replay).await
}

/// The reply of a successful open, or how to refuse the app.
fn accepted(result: OpResult) -> Result<Reply, (FailureClass, OpenError)> {
    match result {
        Ok(reply) => match (&reply.e, &reply.sid) {
            (Some(e), _) => Err((FailureClass::of_node_error(e), OpenError::Node(e.clone()))),
            (None, None) => Err((FailureClass::General, OpenError::NoSid)),
            (None, Some(_)) => Ok(reply),
        },
        Err(failure) => Err((FailureClass::General, OpenError::Node(failure.to_string()))),
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
