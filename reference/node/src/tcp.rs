//! A TCP session: the upstream socket, a bounded read buffer filled by a reader task, and the
//! per-session seq gate.
//!
//! The read buffer is capped (§9): when a client stops polling, the reader stops reading, the
//! kernel window fills, and the upstream is slowed by TCP itself instead of the node's memory
//! growing without bound (deployed nodes buffer without limit).

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use seqtun_wire::drain::plan_drain;
use seqtun_wire::params::TCP_READ_CHUNK;
use seqtun_wire::reap::SessionAge;
use seqtun_wire::seq_gate::SeqGate;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::exchange;
use crate::lock;
use crate::memory::{Charge, Class, SessionCount};
use crate::read_buf::ReadBuf;
use crate::table::Slot;

struct Inbox {
    buf: ReadBuf,
    /// The upstream closed or failed; nothing more will arrive.
    done: bool,
    /// What the buffer costs the node's memory budget: at least the session's floor, at most
    /// what the buffered reads allocated plus the read in progress (§5.6, `ReadBuf::committed`).
    charge: Charge,
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
    /// When the answer carrying the sid was handed to the connection (§5.1, unclaimed rule).
    handed_off: Mutex<Option<Instant>>,
    pub gate: Mutex<SeqGate>,
    /// Woken (all waiters) whenever the seq turn passes.
    pub turn_passed: Notify,
    /// Woken (all waiters) when a parked idle poll must answer now (§7.7).
    pub preempt: Notify,
    /// Woken (all waiters) by `close`, so a write blocked on a stalled upstream gives up.
    shut: Notify,
    closed: AtomicBool,
    reader: Mutex<Option<AbortHandle>>,
    /// The dialect its first data op showed (stats; `New` also tells the reaper no op has named
    /// the session yet, §5.1): see [`Dialect`].
    dialect: AtomicU8,
    _counted: SessionCount,
    _slot: Slot,
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
        mut slot: Slot,
    ) -> Arc<Self> {
        let (rd, wr) = stream.into_split();
        let charge = slot.take_floor();
        let counted = charge.memory().tcp_session();
        let session = Arc::new(Self {
            sid,
            writer: tokio::sync::Mutex::new(Some(wr)),
            inbox: Mutex::new(Inbox {
                buf: ReadBuf::default(),
                done: false,
                charge,
            }),
            cap,
            readable: Notify::new(),
            space: Notify::new(),
            last_active: Mutex::new(Instant::now()),
            handed_off: Mutex::new(None),
            gate: Mutex::new(gate),
            turn_passed: Notify::new(),
            preempt: Notify::new(),
            shut: Notify::new(),
            closed: AtomicBool::new(false),
            reader: Mutex::new(None),
            dialect: AtomicU8::new(Dialect::New as u8),
            _counted: counted,
            _slot: slot,
        });
        let task = tokio::spawn(Arc::clone(&session).read_loop(rd));
        *lock(&session.reader) = Some(task.abort_handle());
        session
    }

    async fn read_loop(self: Arc<Self>, rd: OwnedReadHalf) {
        loop {
            let want = self.room(TCP_READ_CHUNK).await;
            // The read's buffer is allocated once bytes are there, so an idle session holds
            // none (§5.6).
            if let Err(e) = rd.readable().await {
                tracing::debug!(sid = %self.sid, error = %e, "upstream read failed");
                break;
            }
            let mut read = BytesMut::with_capacity(want);
            match rd.try_read_buf(&mut read) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => {
                    tracing::debug!(sid = %self.sid, error = %e, "upstream read failed");
                    break;
                }
            }
            let mut inbox = lock(&self.inbox);
            inbox.buf.push(read);
            let keep = inbox.buf.committed().max(inbox.charge.memory().floor());
            inbox.charge.shrink_to(keep);
            drop(inbox);
            self.readable.notify_waiters();
        }
        lock(&self.inbox).done = true;
        self.readable.notify_waiters();
    }

    /// Waits until the session may read, and charges the budget for it: up to `chunk` bytes
    /// within the session's floor, else within the session cap, its fair share and the
    /// budget's buffer pool (§5.2, §5.6). Returns how many bytes to read.
    async fn room(&self, chunk: usize) -> usize {
        let mem = Arc::clone(lock(&self.inbox).charge.memory());
        let mut paused = false;
        let mut share_limited;
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            let freed = mem.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let want = {
                let mut inbox = lock(&self.inbox);
                // The session cap counts bytes (§5.2); the fair share counts what the reads
                // allocated, as the budget does (§5.6).
                let allocated = inbox.buf.allocated();
                let covered = inbox.charge.bytes().saturating_sub(allocated);
                let share = self.cap.min(mem.fair_share()).max(mem.floor());
                share_limited = share < self.cap;
                let mut room = self.cap.saturating_sub(inbox.buf.len());
                if share_limited {
                    room = room.min(share.saturating_sub(allocated));
                }
                if covered > 0 && room > 0 {
                    let want = covered.min(room).min(chunk);
                    inbox.buf.begin_read(want);
                    return want;
                }
                let want = room.min(chunk);
                if want > 0 && inbox.charge.try_grow(want, mem.buffer_limit()).is_ok() {
                    inbox.buf.begin_read(want);
                    return want;
                }
                want
            };
            // Paused by the budget (its pool or the fair share), not by the session's own cap.
            if (want > 0 || share_limited) && !paused {
                paused = true;
                mem.paused_reads.fetch_add(1, Ordering::Relaxed);
            }
            tokio::select! {
                () = space => {}
                () = freed => {}
            }
        }
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

    /// The answer naming this session went out now (the first time counts).
    pub fn handed_off(&self, now: Instant) {
        lock(&self.handed_off).get_or_insert(now);
    }

    /// What the reaper judges (§5.1): idleness, and how long the sid has been out without an
    /// op naming it (a data op sets the dialect, so `New` means never named).
    pub fn age(&self, now: Instant) -> SessionAge {
        let since = |t: Instant| now.saturating_duration_since(t);
        let unclaimed = match self.dialect() {
            Dialect::New => lock(&self.handed_off).map(since),
            _ => None,
        };
        SessionAge {
            idle: since(*lock(&self.last_active)),
            unclaimed,
        }
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
    /// The drained bytes stay charged to the budget until the current exchange's answer is
    /// written (§5.6).
    pub fn drain(&self, allowance: usize) -> (Bytes, bool) {
        let (bytes, eof) = {
            let mut inbox = lock(&self.inbox);
            let plan = plan_drain(inbox.buf.len(), inbox.done, allowance);
            let taken = inbox.buf.take(plan.take);
            let floor = inbox.charge.memory().floor();
            // The read in progress keeps its reservation (§5.6).
            let keep = inbox.buf.committed().max(floor);
            let moved = inbox.charge.bytes().saturating_sub(keep);
            let mut held = inbox.charge.split_into(moved, Class::Replies);
            held.force_grow(taken.alloc.saturating_sub(moved));
            held.shrink_to(taken.alloc);
            exchange::hold(held);
            let bytes = taken.bytes;
            (bytes, plan.eof)
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
        {
            // Closed means discarded: the buffer's memory goes back now, not when the last
            // reference to the session drops.
            let mut inbox = lock(&self.inbox);
            inbox.done = true;
            inbox.buf = ReadBuf::default();
            inbox.charge.shrink_to(0);
        }
        self.readable.notify_waiters();
        self.preempt.notify_waiters();
        self.turn_passed.notify_waiters();
        if let Some(mut w) = self.writer.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }
}
