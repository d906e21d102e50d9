//! A TCP session: the upstream socket, a bounded read buffer filled by a reader task, and the
//! per-session seq gate.
//!
//! The read buffer is capped (§9): when a client stops polling, the reader stops reading, the
//! kernel window fills, and the upstream is slowed by TCP itself instead of the node's memory
//! growing without bound (deployed nodes buffer without limit).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use seqtun_wire::drain::plan_drain;
use seqtun_wire::params::TCP_READ_CHUNK;
use seqtun_wire::seq_gate::SeqGate;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::lock;

#[derive(Default)]
struct Inbox {
    buf: BytesMut,
    /// The upstream closed or failed; nothing more will arrive.
    done: bool,
}

/// Why an uplink write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("session closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub struct TcpSession {
    pub sid: String,
    writer: tokio::sync::Mutex<Option<OwnedWriteHalf>>,
    inbox: Mutex<Inbox>,
    cap: usize,
    /// Woken (all waiters) whenever bytes or eof arrive.
    pub readable: Notify,
    /// Woken (one permit) whenever a drain makes room for the reader.
    space: Notify,
    last_active: Mutex<Instant>,
    pub gate: Mutex<SeqGate>,
    /// Woken (all waiters) whenever the seq turn passes.
    pub turn_passed: Notify,
    /// Woken (all waiters) when a parked idle poll must answer now (§7.7).
    pub preempt: Notify,
    /// Woken (all waiters) by `close`, so a write blocked on a stalled upstream gives up.
    shut: Notify,
    closed: AtomicBool,
    reader: Mutex<Option<AbortHandle>>,
    /// The dialect its first data op showed (stats only): see [`Dialect`].
    dialect: AtomicU8,
    _permit: OwnedSemaphorePermit,
}

/// Which dialect a TCP session's client speaks, as far as the node can tell: known from the
/// session's first `data` op (with or without `seq`); `New` until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    New = 0,
    Pipelined = 1,
    Legacy = 2,
}

impl TcpSession {
    /// Wraps a connected stream and starts its reader.
    pub fn start(
        sid: String,
        stream: TcpStream,
        cap: usize,
        gate: SeqGate,
        permit: OwnedSemaphorePermit,
    ) -> Arc<Self> {
        let (rd, wr) = stream.into_split();
        let session = Arc::new(Self {
            sid,
            writer: tokio::sync::Mutex::new(Some(wr)),
            inbox: Mutex::new(Inbox::default()),
            cap,
            readable: Notify::new(),
            space: Notify::new(),
            last_active: Mutex::new(Instant::now()),
            gate: Mutex::new(gate),
            turn_passed: Notify::new(),
            preempt: Notify::new(),
            shut: Notify::new(),
            closed: AtomicBool::new(false),
            reader: Mutex::new(None),
            dialect: AtomicU8::new(Dialect::New as u8),
            _permit: permit,
        });
        let task = tokio::spawn(Arc::clone(&session).read_loop(rd));
        *lock(&session.reader) = Some(task.abort_handle());
        session
    }

    async fn read_loop(self: Arc<Self>, mut rd: OwnedReadHalf) {
        let mut chunk = vec![0u8; TCP_READ_CHUNK];
        loop {
            let room = loop {
                let space = self.space.notified();
                let room = self.cap.saturating_sub(lock(&self.inbox).buf.len());
                if room > 0 {
                    break room;
                }
                space.await;
            };
            let want = room.min(chunk.len());
            match rd.read(&mut chunk[..want]).await {
                Ok(0) => break,
                Ok(n) => {
                    lock(&self.inbox).buf.extend_from_slice(&chunk[..n]);
                    self.readable.notify_waiters();
                }
                Err(e) => {
                    tracing::debug!(sid = %self.sid, error = %e, "upstream read failed");
                    break;
                }
            }
        }
        lock(&self.inbox).done = true;
        self.readable.notify_waiters();
    }

    /// Records the dialect of the session's first data op; later ops do not change it.
    pub fn note_dialect(&self, d: Dialect) {
        let _ = self.dialect.compare_exchange(
            Dialect::New as u8,
            d as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub fn dialect(&self) -> Dialect {
        match self.dialect.load(Ordering::Relaxed) {
            1 => Dialect::Pipelined,
            2 => Dialect::Legacy,
            _ => Dialect::New,
        }
    }

    /// Marks client activity, which keeps the reaper away (§5.1).
    pub fn touch(&self) {
        *lock(&self.last_active) = Instant::now();
    }

    pub fn last_active(&self) -> Instant {
        *lock(&self.last_active)
    }

    /// Bytes are buffered or the upstream is done: a drain would return something.
    pub fn is_ready(&self) -> bool {
        let inbox = lock(&self.inbox);
        inbox.done || !inbox.buf.is_empty()
    }

    pub fn buffered(&self) -> usize {
        lock(&self.inbox).buf.len()
    }

    /// The upstream closed or failed (bytes may still be buffered).
    pub fn upstream_done(&self) -> bool {
        lock(&self.inbox).done
    }

    /// Takes up to `allowance` bytes; `eof` only when the buffer is emptied after the upstream
    /// finished.
    pub fn drain(&self, allowance: usize) -> (Bytes, bool) {
        let (bytes, eof) = {
            let mut inbox = lock(&self.inbox);
            let plan = plan_drain(inbox.buf.len(), inbox.done, allowance);
            (inbox.buf.split_to(plan.take).freeze(), plan.eof)
        };
        if !bytes.is_empty() {
            self.space.notify_one();
        }
        (bytes, eof)
    }

    /// Writes and flushes uplink bytes; a concurrent `close` cancels a blocked write.
    pub async fn write(&self, bytes: &[u8]) -> Result<(), WriteError> {
        let shut = self.shut.notified();
        tokio::pin!(shut);
        shut.as_mut().enable();
        if self.is_closed() {
            return Err(WriteError::Closed);
        }
        let mut writer = self.writer.lock().await;
        let w = writer.as_mut().ok_or(WriteError::Closed)?;
        tokio::select! {
            done = async {
                w.write_all(bytes).await?;
                w.flush().await
            } => Ok(done?),
            () = shut => Err(WriteError::Closed),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops the reader and closes the upstream socket. Idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.shut.notify_waiters();
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
        lock(&self.inbox).done = true;
        self.readable.notify_waiters();
        self.preempt.notify_waiters();
        self.turn_passed.notify_waiters();
        if let Some(mut w) = self.writer.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }
}
