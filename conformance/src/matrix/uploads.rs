//! The upload stage of a cell: three sessions pushing full-size ops at once, through a client
//! with the default op size, every echoed byte checked.
//!
//! This is what broke seqtun-client against deployed nodes: two 1 MiB ops (of one pipelined
//! session, or of two legacy ones) in one request make a body over the 2 MiB deployed nodes
//! read, the node refuses it with 413, and every op of it fails. The three sessions open
//! together, so their full ops are ready together and a client that lets them share a request
//! breaks. Small ops, like the rest of the exchange uses, never get there.
//!
//! Each session writes its bytes right behind its CONNECT request, without waiting for the
//! SOCKS5 reply (as an app with optimistic data does). The bytes are then waiting when the
//! client's session starts, so every session's first op is a full one sent the moment its
//! connect is answered. An app that wrote only after the reply would race the client's first
//! idle poll (20 ms, §7.8): under load the poll wins, each legacy session's data then waits for
//! its own poll to come back, and the sessions' full ops drift into separate requests, so
//! whether the break showed depended on the machine's load.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::exchange::{
    BULK_BYTES, Delivery, ROUNDS, first_difference, pattern, read_all, socks5_greet, socks5_reply,
    socks5_request,
};
use crate::fixtures::TcpFixture;

/// Concurrent upload sessions.
pub const UPLOAD_SESSIONS: usize = 3;
/// Bytes each session sends (and gets back): one full 1 MiB op and three quarters of another.
/// The sessions' connects are answered one request apart (one open per request, §6.3), so one
/// session's full op tends to meet the rest of another's rather than its full op; with a rest of
/// 768 KiB that meeting alone is a body over 2 MiB. With a rest of 256 KiB (this stage's first
/// size) it stayed just under the limit and the legacy break showed only when timing allowed.
pub const UPLOAD_BYTES: usize = 7 << 18;

/// Runs the upload stage through the SOCKS5 front end at `socks` to the echo `origin`.
pub async fn uploads(socks: SocketAddr, origin: &TcpFixture) -> Delivery {
    let base = ROUNDS.iter().sum::<usize>() + BULK_BYTES;
    let sessions = (0..UPLOAD_SESSIONS).map(|i| one(socks, origin.addr, base + i * UPLOAD_BYTES));
    for (i, delivery) in futures_util::future::join_all(sessions)
        .await
        .into_iter()
        .enumerate()
    {
        match delivery {
            Delivery::Ok => {}
            Delivery::Failed { reason } => {
                return Delivery::failed(format!(
                    "upload {} of {UPLOAD_SESSIONS} ({} KiB each, at once): {reason}",
                    i + 1,
                    UPLOAD_BYTES >> 10
                ));
            }
            other => return other,
        }
    }
    Delivery::Ok
}

/// One session: writes its part of the stream while reading the echo back.
async fn one(socks: SocketAddr, origin: SocketAddr, from: usize) -> Delivery {
    let mut stream = match TcpStream::connect(socks).await {
        Ok(s) => s,
        Err(e) => return Delivery::failed(format!("cannot reach the client's SOCKS5 port: {e}")),
    };
    if let Err(e) = socks5_greet(&mut stream).await {
        return Delivery::failed(e);
    }
    let mut first = match socks5_request(origin) {
        Ok(req) => req,
        Err(e) => return Delivery::failed(e),
    };
    first.extend(pattern(from, UPLOAD_BYTES));
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let sent = wr.write_all(&first).await;
        (sent, wr)
    });
    if let Err(e) = socks5_reply(&mut rd).await {
        writer.abort();
        return Delivery::failed(e);
    }
    let mut back = vec![0u8; UPLOAD_BYTES];
    let read = read_all(&mut rd, &mut back).await;
    writer.abort();
    if let Err(e) = read {
        return Delivery::failed(e);
    }
    match first_difference(&back, from) {
        Some(offset) => Delivery::BytesWrong {
            direction: "echoed",
            offset,
        },
        None => Delivery::Ok,
    }
}
