//! The origin servers the node dials, all behind one loopback listener: each connection's
//! first 17 bytes say what the app wants (the app's first bytes, so they ride in
//! `connect_data`, as a browser's TLS hello does).
//!
//! Bytes are a fixed pattern with a period of 251 (a prime, so no power-of-two op or reply
//! size lines up with it): the app checks every byte it receives against it, so a fast result
//! with a wrong byte cannot pass as a measurement.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Period of the byte pattern.
pub const PERIOD: usize = 251;
/// Longest slice [`pattern`] hands out.
pub const CHUNK: usize = 256 << 10;

/// The pattern, long enough that any offset has [`CHUNK`] bytes after it.
fn buffer() -> &'static [u8] {
    static BUF: OnceLock<Vec<u8>> = OnceLock::new();
    BUF.get_or_init(|| {
        (0..CHUNK + PERIOD)
            .map(|i| (i % PERIOD) as u8 ^ 0x5a)
            .collect()
    })
}

/// The `len` (≤ [`CHUNK`]) pattern bytes at stream position `pos`.
pub fn pattern(pos: u64, len: usize) -> &'static [u8] {
    let start = (pos % PERIOD as u64) as usize;
    &buffer()[start..start + len.min(CHUNK)]
}

/// What a connection asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Send `total` pattern bytes as fast as the socket takes them, then close.
    Source { total: u64 },
    /// Read `total` bytes, check them, and report the instant the last one arrived to the
    /// waiter registered under `id`.
    Sink { total: u64, id: u64 },
    /// Send `window` bytes, wait for a one-byte ack, and so on until `total` bytes are sent.
    Windowed { total: u64, window: u64 },
    /// Answer every 16-byte request with 16 bytes, until the app closes.
    Rpc,
}

/// Length of the command that opens every connection.
pub const ASK_LEN: usize = 17;

impl Ask {
    pub fn encode(self) -> [u8; ASK_LEN] {
        let (kind, a, b) = match self {
            Ask::Source { total } => (1, total, 0),
            Ask::Sink { total, id } => (2, total, id),
            Ask::Windowed { total, window } => (3, total, window),
            Ask::Rpc => (4, 0, 0),
        };
        let mut out = [0u8; ASK_LEN];
        out[0] = kind;
        out[1..9].copy_from_slice(&a.to_be_bytes());
        out[9..17].copy_from_slice(&b.to_be_bytes());
        out
    }

    fn decode(raw: &[u8; ASK_LEN]) -> Option<Self> {
        let num = |r: &[u8]| u64::from_be_bytes(r.try_into().unwrap_or_default());
        let (a, b) = (num(&raw[1..9]), num(&raw[9..17]));
        Some(match raw[0] {
            1 => Ask::Source { total: a },
            2 => Ask::Sink { total: a, id: b },
            3 if b > 0 => Ask::Windowed {
                total: a,
                window: b,
            },
            4 => Ask::Rpc,
            _ => return None,
        })
    }
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Instant, String>>>>>;

/// The running origin.
pub struct Origin {
    pub addr: SocketAddr,
    waiters: Waiters,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    /// Listens on 127.0.0.1 and serves every connection in its own task.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let waiters: Waiters = Arc::default();
        let w = Arc::clone(&waiters);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, Arc::clone(&w)));
            }
        });
        Ok(Self {
            addr,
            waiters,
            task,
        })
    }

    /// Registers a sink waiter: resolves with the instant sink `id` received its last byte.
    pub fn expect_sink(&self, id: u64) -> oneshot::Receiver<Result<Instant, String>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(id, tx);
        rx
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(mut s: TcpStream, waiters: Waiters) {
    let mut raw = [0u8; ASK_LEN];
    if s.read_exact(&mut raw).await.is_err() {
        return;
    }
    let _ = match Ask::decode(&raw) {
        Some(Ask::Source { total }) => source(&mut s, total).await,
        Some(Ask::Sink { total, id }) => {
            let result = sink(&mut s, total).await;
            if let Some(tx) = lock(&waiters).remove(&id) {
                let _ = tx.send(result);
            }
            Ok(())
        }
        Some(Ask::Windowed { total, window }) => windowed(&mut s, total, window).await,
        Some(Ask::Rpc) => rpc(&mut s).await,
        None => Ok(()),
    };
    let _ = s.shutdown().await;
}

async fn source(s: &mut TcpStream, total: u64) -> std::io::Result<()> {
    send_pattern(s, 0, total).await
}

async fn send_pattern(s: &mut TcpStream, from: u64, len: u64) -> std::io::Result<()> {
    let mut pos = from;
    while pos < from + len {
        let n = (from + len - pos).min(CHUNK as u64) as usize;
        s.write_all(pattern(pos, n)).await?;
        pos += n as u64;
    }
    Ok(())
}

async fn sink(s: &mut TcpStream, total: u64) -> Result<Instant, String> {
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < total {
        let want = (total - pos).min(CHUNK as u64) as usize;
        let n = s.read(&mut buf[..want]).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("sink: stream ended after {pos} of {total} bytes"));
        }
        if buf[..n] != *pattern(pos, n) {
            return Err(format!("sink: wrong bytes at {pos}"));
        }
        pos += n as u64;
    }
    Ok(Instant::now())
}

async fn windowed(s: &mut TcpStream, total: u64, window: u64) -> std::io::Result<()> {
    let mut pos = 0;
    let mut ack = [0u8; 1];
    while pos < total {
        let n = window.min(total - pos);
        send_pattern(s, pos, n).await?;
        pos += n;
        if pos < total {
            s.read_exact(&mut ack).await?;
        }
    }
    Ok(())
}

/// The answer to an rpc request: the request with every byte incremented.
pub fn rpc_answer(req: &[u8; 16]) -> [u8; 16] {
    req.map(|b| b.wrapping_add(1))
}

async fn rpc(s: &mut TcpStream) -> std::io::Result<()> {
    let mut req = [0u8; 16];
    loop {
        match s.read_exact(&mut req).await {
            Ok(_) => s.write_all(&rpc_answer(&req)).await?,
            Err(_) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_round_trip_and_the_pattern_is_periodic() {
        for ask in [
            Ask::Source { total: 5 },
            Ask::Sink { total: 7, id: 9 },
            Ask::Windowed {
                total: 1 << 40,
                window: 3,
            },
            Ask::Rpc,
        ] {
            assert_eq!(Ask::decode(&ask.encode()), Some(ask));
        }
        assert_eq!(Ask::decode(&[9; ASK_LEN]), None);
        assert_eq!(pattern(3, 4), pattern(3 + PERIOD as u64, 4));
        assert_ne!(pattern(0, 4), pattern(1, 4));
        assert_eq!(pattern(250, CHUNK).len(), CHUNK);
    }
}
