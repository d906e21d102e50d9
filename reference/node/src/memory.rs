//! The node-wide memory budget (§5.6).
//!
//! Every per-item limit of the node (16 MiB of read buffer per session, 64 MiB per body, 32 MiB
//! per reply) multiplied by the number of items exceeds any VPS, so the bytes the node holds for
//! others are counted against one budget (`--memory-budget-bytes`):
//!
//! - **upstream buffers** (TCP read buffers, UDP queues) may fill `--memory-buffer-percent` of
//!   it (75%); the rest stays free for request bodies and replies, so a node whose buffers are
//!   full still reads and answers the batches that drain them. A full pool pauses the readers:
//!   the kernel window closes and TCP slows the origin; nothing is dropped (UDP datagrams that
//!   find the pool full are dropped, as a full UDP queue drops them).
//! - **fairness**: each TCP session is guaranteed one read chunk (64 KiB), reserved when it
//!   opens, so a session can always move bytes however full the pool is; beyond that it may hold
//!   at most its fair share, the pool divided by the live TCP sessions (never more than
//!   `--read-buf-cap-bytes`). A session that never drains keeps what it read but cannot grow
//!   past its share, and cannot take what others drain.
//! - **request bodies** are charged as they arrive (and again when gzip is inflated) against the
//!   whole budget; one that does not fit is refused with HTTP 503 and nothing of it runs.
//! - **replies**: bytes drained from a session stay charged until the HTTP answer carrying them
//!   is written or dropped, and the encoded answer is charged while hyper holds it.
//! - **held replies** (a later feature): [`Class::Held`] is reserved for them.
//!
//! Charges are RAII values ([`Charge`]): whatever path drops a buffer, body or reply gives its
//! bytes back, so the books cannot drift.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::Notify;

/// What a charge pays for (stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// TCP read buffers.
    Buffers = 0,
    /// UDP datagram queues.
    Udp = 1,
    /// Request bodies, raw and inflated, while their request runs.
    Bodies = 2,
    /// Drained bytes and encoded answers until the answer is written.
    Replies = 3,
    /// Replies held for retransmits of replay-safe sessions (§7.10).
    Held = 4,
}

const CLASSES: usize = 5;
pub const CLASS_NAMES: [&str; CLASSES] = ["buffers", "udp", "bodies", "replies", "held"];

/// Why a charge was refused; the text names the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "node memory budget spent: {used} of {limit} bytes in use, {wanted} more wanted (raise --memory-budget-bytes)"
)]
pub struct Spent {
    pub used: usize,
    pub limit: usize,
    pub wanted: usize,
}

/// The budget and its books.
#[derive(Debug)]
pub struct Memory {
    limit: usize,
    buffer_limit: usize,
    read_buf_cap: usize,
    floor: usize,
    used: AtomicUsize,
    by_class: [AtomicUsize; CLASSES],
    tcp_sessions: AtomicUsize,
    /// Woken (all waiters) whenever bytes are given back.
    pub freed: Notify,
    pub refused_bodies: AtomicU64,
    pub paused_reads: AtomicU64,
    pub dropped_datagrams: AtomicU64,
    peak: AtomicUsize,
}

/// Memory in use now, by class (`/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemorySnapshot {
    pub budget: u64,
    pub used: u64,
    pub peak: u64,
    pub buffers: u64,
    pub udp: u64,
    pub bodies: u64,
    pub replies: u64,
    pub held: u64,
    pub refused_bodies: u64,
    pub paused_reads: u64,
    pub dropped_datagrams: u64,
}

impl Memory {
    /// A budget of `limit` bytes, `buffer_percent` of it for upstream buffers; each TCP session
    /// is guaranteed `floor` bytes and holds at most `read_buf_cap`.
    pub fn new(limit: usize, buffer_percent: u8, floor: usize, read_buf_cap: usize) -> Arc<Self> {
        let buffer_limit = (limit as u128 * u128::from(buffer_percent.min(100)) / 100) as usize;
        Arc::new(Self {
            limit,
            buffer_limit,
            read_buf_cap,
            floor,
            used: AtomicUsize::new(0),
            by_class: Default::default(),
            tcp_sessions: AtomicUsize::new(0),
            freed: Notify::new(),
            refused_bodies: AtomicU64::new(0),
            paused_reads: AtomicU64::new(0),
            dropped_datagrams: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most the upstream buffers may hold together.
    pub fn buffer_limit(&self) -> usize {
        self.buffer_limit
    }

    /// What every TCP session is guaranteed.
    pub fn floor(&self) -> usize {
        self.floor
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The most one TCP session may buffer now: the pool over the live sessions, between the
    /// floor and the per-session cap.
    pub fn fair_share(&self) -> usize {
        let n = self.tcp_sessions.load(Ordering::Relaxed).max(1);
        (self.buffer_limit / n).clamp(self.floor, self.read_buf_cap.max(self.floor))
    }

    fn add(&self, class: Class, n: usize) {
        self.by_class[class as usize].fetch_add(n, Ordering::AcqRel);
        let now = self.used.fetch_add(n, Ordering::AcqRel) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, class: Class, n: usize) {
        if n == 0 {
            return;
        }
        self.by_class[class as usize].fetch_sub(n, Ordering::AcqRel);
        self.used.fetch_sub(n, Ordering::AcqRel);
        self.freed.notify_waiters();
    }

    /// Takes `n` bytes if the total stays at or under `ceiling`.
    fn try_add(&self, class: Class, n: usize, ceiling: usize) -> bool {
        let mut cur = self.used.load(Ordering::Acquire);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= ceiling) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(seen) => cur = seen,
            }
        }
        self.by_class[class as usize].fetch_add(n, Ordering::AcqRel);
        self.peak.fetch_max(cur + n, Ordering::Relaxed);
        true
    }

    /// An empty charge of `class`, to grow later.
    pub fn charge(self: &Arc<Self>, class: Class) -> Charge {
        Charge {
            mem: Arc::clone(self),
            class,
            bytes: 0,
        }
    }

    /// `n` bytes of `class` within the whole budget, or why not.
    pub fn try_charge(self: &Arc<Self>, class: Class, n: usize) -> Result<Charge, Spent> {
        let mut c = self.charge(class);
        c.try_grow(n, self.limit)?;
        Ok(c)
    }

    /// `n` bytes that already exist (an encoded answer): counted even over the budget, so the
    /// books stay true and the readers pause until they are written.
    pub fn force(self: &Arc<Self>, class: Class, n: usize) -> Charge {
        let mut c = self.charge(class);
        c.force_grow(n);
        c
    }

    /// Counts a live TCP session for the fair share until the guard drops.
    pub fn tcp_session(self: &Arc<Self>) -> SessionCount {
        self.tcp_sessions.fetch_add(1, Ordering::AcqRel);
        SessionCount(Arc::clone(self))
    }

    pub fn snapshot(&self) -> MemorySnapshot {
        let c = |k: Class| self.by_class[k as usize].load(Ordering::Relaxed) as u64;
        MemorySnapshot {
            budget: self.limit as u64,
            used: self.used() as u64,
            peak: self.peak.load(Ordering::Relaxed) as u64,
            buffers: c(Class::Buffers),
            udp: c(Class::Udp),
            bodies: c(Class::Bodies),
            replies: c(Class::Replies),
            held: c(Class::Held),
            refused_bodies: self.refused_bodies.load(Ordering::Relaxed),
            paused_reads: self.paused_reads.load(Ordering::Relaxed),
            dropped_datagrams: self.dropped_datagrams.load(Ordering::Relaxed),
        }
    }
}

/// One live TCP session in the fair-share count.
#[derive(Debug)]
pub struct SessionCount(Arc<Memory>);

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.tcp_sessions.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

/// Bytes counted against the budget until dropped.
#[derive(Debug)]
pub struct Charge {
    mem: Arc<Memory>,
    class: Class,
    bytes: usize,
}

impl Charge {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn memory(&self) -> &Arc<Memory> {
        &self.mem
    }

    /// Grows by `n` if the budget's total stays at or under `ceiling`.
    pub fn try_grow(&mut self, n: usize, ceiling: usize) -> Result<(), Spent> {
        if self.mem.try_add(self.class, n, ceiling) {
            self.bytes += n;
            Ok(())
        } else {
            Err(Spent {
                used: self.mem.used(),
                limit: ceiling,
                wanted: n,
            })
        }
    }

    /// Grows by `n` whatever the budget says (bytes that already exist).
    pub fn force_grow(&mut self, n: usize) {
        self.mem.add(self.class, n);
        self.bytes += n;
    }

    /// Gives `n` bytes back (at most what it holds).
    pub fn shrink(&mut self, n: usize) {
        let n = n.min(self.bytes);
        self.bytes -= n;
        self.mem.sub(self.class, n);
    }

    /// Gives back everything above `keep`.
    pub fn shrink_to(&mut self, keep: usize) {
        self.shrink(self.bytes.saturating_sub(keep));
    }

    /// Moves `n` bytes (at most what it holds) into a new charge of `class`.
    pub fn split_into(&mut self, n: usize, class: Class) -> Charge {
        let n = n.min(self.bytes);
        self.bytes -= n;
        self.mem.by_class[self.class as usize].fetch_sub(n, Ordering::AcqRel);
        self.mem.by_class[class as usize].fetch_add(n, Ordering::AcqRel);
        Charge {
            mem: Arc::clone(&self.mem),
            class,
            bytes: n,
        }
    }
}

/// A request body's charge: it grows within the whole budget as the body arrives.
impl seqtun_runtime::conn::body::Hold for Charge {
    fn grow(&mut self, n: usize) -> Result<(), String> {
        let limit = self.mem.limit;
        self.try_grow(n, limit).map_err(|e| e.to_string())
    }

    fn release(&mut self) {
        self.shrink_to(0);
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let n = std::mem::take(&mut self.bytes);
        self.mem.sub(self.class, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_given_back_on_drop_and_the_ceiling_holds_at_its_edge() {
        let m = Memory::new(1000, 75, 10, 500);
        assert_eq!(m.buffer_limit(), 750);
        let mut a = m.charge(Class::Buffers);
        a.try_grow(750, m.buffer_limit()).unwrap();
        let err = a.try_grow(1, m.buffer_limit()).unwrap_err();
        assert!(err.to_string().contains("--memory-budget-bytes"), "{err}");
        let b = m.try_charge(Class::Bodies, 250).unwrap();
        assert!(m.try_charge(Class::Bodies, 1).is_err());
        assert_eq!(m.used(), 1000);
        drop(b);
        let moved = a.split_into(100, Class::Replies);
        assert_eq!((m.snapshot().buffers, m.snapshot().replies), (650, 100));
        drop(moved);
        a.shrink_to(10);
        assert_eq!(m.used(), 10);
        drop(a);
        assert_eq!(m.used(), 0);
        assert_eq!(m.snapshot().peak, 1000);
    }

    #[test]
    fn forced_charges_count_over_the_budget() {
        let m = Memory::new(100, 75, 10, 50);
        let f = m.force(Class::Replies, 150);
        assert_eq!(m.used(), 150);
        assert!(m.try_charge(Class::Bodies, 1).is_err());
        drop(f);
        assert!(m.try_charge(Class::Bodies, 100).is_ok());
    }

    #[test]
    fn the_fair_share_divides_the_pool_between_the_floor_and_the_cap() {
        let m = Memory::new(1000, 80, 10, 500);
        assert_eq!(m.fair_share(), 500, "one session: capped");
        let s: Vec<_> = (0..4).map(|_| m.tcp_session()).collect();
        assert_eq!(m.fair_share(), 200);
        let more: Vec<_> = (0..196).map(|_| m.tcp_session()).collect();
        assert_eq!(m.fair_share(), 10, "never below the floor");
        drop((s, more));
        assert_eq!(m.fair_share(), 500);
    }
}
