//! The app side of a cell: a SOCKS5 connection through the client to an echo origin, a few
//! request/response rounds and then a bulk transfer, every byte checked.
//!
//! The rounds exercise the open (`connect_data` carries the first bytes) and the ping-pong a
//! legacy loop is built for; the bulk transfer keeps several ops in flight, where a node that
//! does not order drains could hand bytes back out of order. The stream is a position-dependent
//! pattern, so a reordered, repeated or lost chunk shows up as a mismatch at its offset.

use std::net::SocketAddr;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::fixtures::TcpFixture;

/// Sizes of the request/response rounds, in bytes.
pub const ROUNDS: [usize; 4] = [17, 300, 4096, 20_000];
/// Bytes of the bulk transfer, each way.
pub const BULK_BYTES: usize = 256 * 1024;
/// How much the app writes at once during the bulk transfer.
const WRITE_CHUNK: usize = 16 * 1024;

/// How the bytes fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Delivery {
    /// Every byte arrived exactly, both ways.
    Ok,
    /// Bytes arrived but differ from what was sent, first at `offset` of the stream.
    BytesWrong {
        direction: &'static str,
        offset: usize,
    },
    /// The exchange broke off (or never started).
    Failed { reason: String },
    /// The cell did not finish within its bound.
    Timeout { ms: u64 },
}

impl Delivery {
    pub fn is_ok(&self) -> bool {
        matches!(self, Delivery::Ok)
    }

    pub fn word(&self) -> &'static str {
        match self {
            Delivery::Ok => "ok",
            Delivery::BytesWrong { .. } => "BYTES WRONG",
            Delivery::Failed { .. } => "FAILED",
            Delivery::Timeout { .. } => "TIMEOUT",
        }
    }

    /// One line on what went wrong; `None` when nothing did.
    pub fn detail(&self) -> Option<String> {
        match self {
            Delivery::Ok => None,
            Delivery::BytesWrong { direction, offset } => Some(format!(
                "{direction} bytes differ from what was sent, first at stream offset {offset}"
            )),
            Delivery::Failed { reason } => Some(reason.clone()),
            Delivery::Timeout { ms } if *ms < 1000 => {
                Some(format!("no result within {ms} ms; the cell was stopped"))
            }
            Delivery::Timeout { ms } => Some(format!(
                "no result within {:.1} s; the cell was stopped",
                *ms as f64 / 1000.0
            )),
        }
    }

    pub(super) fn failed(reason: impl Into<String>) -> Self {
        Delivery::Failed {
            reason: reason.into(),
        }
    }
}

/// The byte at `offset` of the stream: a hash of the position, so no two nearby chunks match.
fn byte_at(offset: usize) -> u8 {
    ((offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

pub(super) fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(byte_at).collect()
}

pub(super) fn first_difference(got: &[u8], from: usize) -> Option<usize> {
    got.iter()
        .enumerate()
        .find(|(i, b)| **b != byte_at(from + i))
        .map(|(i, _)| from + i)
}

/// Runs the whole exchange through the SOCKS5 front end at `socks` to `origin`.
pub async fn run(socks: SocketAddr, origin: &TcpFixture) -> Delivery {
    let mut stream = match TcpStream::connect(socks).await {
        Ok(s) => s,
        Err(e) => return Delivery::failed(format!("cannot reach the client's SOCKS5 port: {e}")),
    };
    if let Err(e) = socks5_connect(&mut stream, origin.addr).await {
        return Delivery::failed(e);
    }
    let mut sent = 0;
    for len in ROUNDS {
        let out = pattern(sent, len);
        if let Err(e) = stream.write_all(&out).await {
            return Delivery::failed(format!("writing round of {len} bytes: {e}"));
        }
        let mut back = vec![0u8; len];
        if let Err(e) = read_all(&mut stream, &mut back).await {
            return Delivery::failed(format!("echo of the {len}-byte round: {e}"));
        }
        if let Some(offset) = first_difference(&back, sent) {
            return blame(origin, sent + len, offset);
        }
        sent += len;
    }
    let (mut rd, mut wr) = stream.into_split();
    let from = sent;
    let writer = tokio::spawn(async move {
        let mut at = from;
        while at < from + BULK_BYTES {
            let n = WRITE_CHUNK.min(from + BULK_BYTES - at);
            wr.write_all(&pattern(at, n)).await?;
            at += n;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let mut back = vec![0u8; BULK_BYTES];
    let read = read_all(&mut rd, &mut back).await;
    let written = writer.await;
    if let Err(e) = read {
        return Delivery::failed(format!("echo of the bulk transfer: {e}"));
    }
    if let Some(offset) = first_difference(&back, from) {
        return blame(origin, from + BULK_BYTES, offset);
    }
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Delivery::failed(format!("writing the bulk transfer: {e}")),
        Err(e) => return Delivery::failed(format!("the bulk writer stopped: {e}")),
    }
    // Echoed bytes matched; the origin's own record confirms the uplink independently.
    let (up, _) = origin.snapshot();
    match first_difference(&up, 0) {
        Some(offset) => Delivery::BytesWrong {
            direction: "uplink",
            offset,
        },
        None if up.len() != from + BULK_BYTES => Delivery::failed(format!(
            "the origin received {} bytes, {} were sent",
            up.len(),
            from + BULK_BYTES
        )),
        None => Delivery::Ok,
    }
}

/// Says which direction corrupted the stream: the origin's record is the uplink as delivered.
fn blame(origin: &TcpFixture, upto: usize, echoed_offset: usize) -> Delivery {
    let (up, _) = origin.snapshot();
    let up = &up[..up.len().min(upto)];
    match first_difference(up, 0) {
        Some(offset) => Delivery::BytesWrong {
            direction: "uplink",
            offset,
        },
        None => Delivery::BytesWrong {
            direction: "downlink",
            offset: echoed_offset,
        },
    }
}

/// Fills `buf`, saying how far it got if the tunnel closes first.
pub(super) async fn read_all(
    rd: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match rd.read(&mut buf[got..]).await {
            Ok(0) => {
                return Err(format!(
                    "the tunnel closed after {got} of {} bytes",
                    buf.len()
                ));
            }
            Ok(n) => got += n,
            Err(e) => {
                return Err(format!(
                    "read failed after {got} of {} bytes: {e}",
                    buf.len()
                ));
            }
        }
    }
    Ok(())
}

/// RFC 1928 CONNECT without authentication to an IPv4 loopback target.
pub(super) async fn socks5_connect(s: &mut TcpStream, target: SocketAddr) -> Result<(), String> {
    socks5_greet(s).await?;
    let req = socks5_request(target)?;
    s.write_all(&req)
        .await
        .map_err(|e| format!("SOCKS5 handshake: {e}"))?;
    socks5_reply(s).await
}

/// The method selection: no authentication.
pub(super) async fn socks5_greet(s: &mut TcpStream) -> Result<(), String> {
    let io = |e: std::io::Error| format!("SOCKS5 handshake: {e}");
    s.write_all(&[0x05, 0x01, 0x00]).await.map_err(io)?;
    let mut chosen = [0u8; 2];
    s.read_exact(&mut chosen).await.map_err(io)?;
    if chosen != [0x05, 0x00] {
        return Err(format!("SOCKS5 method selection answered {chosen:02x?}"));
    }
    Ok(())
}

/// The CONNECT request's bytes.
pub(super) fn socks5_request(target: SocketAddr) -> Result<Vec<u8>, String> {
    let std::net::IpAddr::V4(ip) = target.ip() else {
        return Err(format!("the origin {target} is not IPv4"));
    };
    let mut req = vec![0x05, 0x01, 0x00, 0x01];
    req.extend(ip.octets());
    req.extend(target.port().to_be_bytes());
    Ok(req)
}

/// Reads the CONNECT reply; an error unless it grants the connection.
pub(super) async fn socks5_reply<R>(s: &mut R) -> Result<(), String>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let io = |e: std::io::Error| format!("SOCKS5 handshake: {e}");
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    let rest = match head[3] {
        0x01 => 4 + 2,
        0x04 => 16 + 2,
        0x03 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await.map_err(io)?;
            n[0] as usize + 2
        }
        other => return Err(format!("SOCKS5 reply with address type {other:02x}")),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip).await.map_err(io)?;
    if head[1] != 0 {
        return Err(format!("SOCKS5 CONNECT refused with code {:02x}", head[1]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_chunk_is_found_at_its_offset() {
        let mut s = pattern(0, 4096);
        assert_eq!(first_difference(&s, 0), None);
        let (a, b) = s.split_at_mut(2048);
        a[1024..2048].swap_with_slice(&mut b[..1024]);
        assert_eq!(first_difference(&s, 0), Some(1024));
        assert_eq!(first_difference(&pattern(10, 5), 10), None);
        assert_eq!(first_difference(&pattern(0, 5), 10), Some(10));
    }
}
