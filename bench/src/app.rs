//! The app side: a SOCKS5 connection through the client, and reads that check every byte.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::origin::{CHUNK, pattern};

/// Why an app's transfer failed; the bench stops rather than report a broken run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("socks5 through the client at {proxy}: {detail}")]
    Socks { proxy: SocketAddr, detail: String },
    #[error("{what}: stream ended after {got} of {want} bytes")]
    Short {
        what: &'static str,
        got: u64,
        want: u64,
    },
    #[error("{what}: wrong byte near position {pos}")]
    Corrupt { what: &'static str, pos: u64 },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{0}")]
    Origin(String),
    #[error("{0} timed out (is the node under test answering?)")]
    Timeout(&'static str),
}

/// RFC 1928 `CONNECT` to an IPv4 `target` through `proxy`, no authentication.
pub async fn socks_connect(proxy: SocketAddr, target: SocketAddr) -> Result<TcpStream, AppError> {
    let fail = |detail: String| AppError::Socks { proxy, detail };
    let SocketAddr::V4(v4) = target else {
        return Err(fail("the bench origin listens on IPv4".into()));
    };
    let mut s = TcpStream::connect(proxy)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let _ = s.set_nodelay(true);
    let mut req = vec![5, 1, 0, 5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req).await.map_err(|e| fail(e.to_string()))?;
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if reply[..2] != [5, 0] || reply[3] != 0 {
        return Err(fail(format!("refused: {reply:?}")));
    }
    Ok(s)
}

/// What a read of pattern bytes saw.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub bytes: u64,
    /// When the first byte arrived.
    pub first: Option<Instant>,
}

/// Reads exactly `want` pattern bytes starting at stream position `from`, checking each.
pub async fn read_pattern(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    from: u64,
    want: u64,
    what: &'static str,
) -> Result<Received, AppError> {
    buf.resize(CHUNK, 0);
    let mut got = 0u64;
    let mut first = None;
    while got < want {
        let room = (want - got).min(CHUNK as u64) as usize;
        let n = s
            .read(&mut buf[..room])
            .await
            .map_err(|source| AppError::Io { what, source })?;
        if n == 0 {
            return Err(AppError::Short { what, got, want });
        }
        first.get_or_insert_with(Instant::now);
        if buf[..n] != *pattern(from + got, n) {
            return Err(AppError::Corrupt {
                what,
                pos: from + got,
            });
        }
        got += n as u64;
    }
    Ok(Received { bytes: got, first })
}

/// Writes `len` pattern bytes starting at stream position 0.
pub async fn write_pattern(s: &mut TcpStream, len: u64) -> Result<(), AppError> {
    let mut pos = 0;
    while pos < len {
        let n = (len - pos).min(CHUNK as u64) as usize;
        s.write_all(pattern(pos, n))
            .await
            .map_err(|source| AppError::Io {
                what: "upload",
                source,
            })?;
        pos += n as u64;
    }
    Ok(())
}
