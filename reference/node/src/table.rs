//! The session table: live TCP and UDP sessions by sid, the node-wide session limit, and the
//! reaper that removes sessions nobody has touched for too long (§5.1).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use seqtun_wire::reap::{Expiry, ReapLimits, tcp_expiry};
use serde::Serialize;

use crate::exchange;
use crate::lock;
use crate::memory::{Charge, Class, Memory, Spent};
use crate::tcp::{Dialect, TcpSession};
use crate::udp::UdpSession;

/// Why no new session may open; the text names the flag that raises the limit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionLimit {
    #[error("session limit reached ({limit} live sessions; raise --max-sessions)")]
    Sessions { limit: usize },
    /// The memory budget cannot guarantee the new session its floor (§5.6).
    #[error("{0}")]
    Memory(#[from] Spent),
}

/// A claim on one live session: a slot under `--max-sessions` and the session's guaranteed
/// share of the memory budget. Both are given back when the session (which keeps it) drops.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    floor: Option<Charge>,
    memory: Arc<Memory>,
}

impl Slot {
    pub fn memory(&self) -> &Arc<Memory> {
        &self.memory
    }

    /// The floor charge, to become the session buffer's charge.
    pub fn take_floor(&mut self) -> Charge {
        self.floor
            .take()
            .unwrap_or_else(|| self.memory.charge(Class::Buffers))
    }
}

/// What one reaper pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Idle TCP and UDP sessions.
    pub idle: usize,
    /// TCP sessions whose sid went out and was never named (§5.1).
    pub unclaimed: usize,
}

/// Live sessions by kind and dialect, and the bytes they hold for clients (stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Census {
    pub tcp_pipelined: u64,
    pub tcp_legacy: u64,
    /// TCP sessions that have not seen a data op yet.
    pub tcp_new: u64,
    pub udp: u64,
    pub buffered_bytes: u64,
}

pub struct Table {
    tcp: Mutex<HashMap<String, Arc<TcpSession>>>,
    udp: Mutex<HashMap<String, Arc<UdpSession>>>,
    slots: Arc<Semaphore>,
    limit: usize,
    /// Bytes of replies all sessions hold for retransmits (§7.10).
    held_replies: AtomicUsize,
    /// The same bytes, charged to the memory budget (§5.6, §7.10).
    held_charge: Mutex<Charge>,
    pub memory: Arc<Memory>,
}

impl Table {
    pub fn new(limit: usize, memory: Arc<Memory>) -> Self {
        Self {
            tcp: Mutex::new(HashMap::new()),
            udp: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            held_replies: AtomicUsize::new(0),
            held_charge: Mutex::new(memory.charge(Class::Held)),
            memory,
        }
    }

    /// Bytes of replies held for retransmits, all sessions.
    pub fn held_reply_bytes(&self) -> usize {
        self.held_replies.load(Ordering::Relaxed)
    }

    /// A session's held replies changed by `added` and `freed` bytes.
    pub fn replay_changed(&self, added: usize, freed: usize) {
        self.held_replies.fetch_add(added, Ordering::Relaxed);
        self.held_replies.fetch_sub(freed, Ordering::Relaxed);
        // The replies exist whatever the budget says; what may be held is decided before
        // (`NodeState::replay_room`), within what the budget has left.
        let mut charge = lock(&self.held_charge);
        charge.force_grow(added);
        charge.shrink(freed);
    }

    /// Closes a removed TCP session and releases what it held for retransmits.
    async fn retire(&self, s: Arc<TcpSession>) {
        let freed = lock(&s.gate).release_all();
        self.replay_changed(0, freed);
        s.close().await;
    }

    /// Claims a slot for a session about to be created; the slot is freed when the session
    /// (which keeps it) is dropped, or right away if creation fails.
    pub fn reserve(&self) -> Result<Slot, SessionLimit> {
        let permit = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| SessionLimit::Sessions { limit: self.limit })?;
        let floor = self
            .memory
            .try_charge(Class::Buffers, self.memory.floor())?;
        Ok(Slot {
            _permit: permit,
            floor: Some(floor),
            memory: Arc::clone(&self.memory),
        })
    }

    /// Registers a new session; the current exchange remembers it, so it can be closed if the
    /// answer naming it never goes out.
    pub fn insert_tcp(&self, s: Arc<TcpSession>) {
        exchange::created(&s.sid);
        lock(&self.tcp).insert(s.sid.clone(), s);
    }

    pub fn insert_udp(&self, s: Arc<UdpSession>) {
        exchange::created(&s.sid);
        lock(&self.udp).insert(s.sid.clone(), s);
    }

    pub fn tcp(&self, sid: &str) -> Option<Arc<TcpSession>> {
        lock(&self.tcp).get(sid).cloned()
    }

    pub fn udp(&self, sid: &str) -> Option<Arc<UdpSession>> {
        lock(&self.udp).get(sid).cloned()
    }

    /// Live sessions, TCP and UDP.
    pub fn len(&self) -> usize {
        lock(&self.tcp).len() + lock(&self.udp).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `close`: removes the sid from both maps and closes whatever was there.
    pub async fn close(&self, sid: &str) {
        let tcp = lock(&self.tcp).remove(sid);
        let udp = lock(&self.udp).remove(sid);
        if let Some(s) = udp {
            s.close();
        }
        if let Some(s) = tcp {
            self.retire(s).await;
        }
    }

    /// Removes a TCP session after its drain reported eof, unless the sid now names another
    /// session.
    pub async fn finish_tcp(&self, s: &Arc<TcpSession>) {
        let removed = {
            let mut map = lock(&self.tcp);
            match map.get(&s.sid) {
                Some(cur) if Arc::ptr_eq(cur, s) => map.remove(&s.sid),
                _ => None,
            }
        };
        if let Some(s) = removed {
            self.retire(s).await;
        }
    }

    /// Same as [`Table::finish_tcp`] for UDP.
    pub fn finish_udp(&self, s: &Arc<UdpSession>) {
        let mut map = lock(&self.udp);
        if map.get(&s.sid).is_some_and(|cur| Arc::ptr_eq(cur, s)) {
            map.remove(&s.sid);
            s.close();
        }
    }

    /// Removes sessions past their timeouts (§5.1).
    pub async fn reap(&self, now: Instant, tcp: ReapLimits, udp_idle: Duration) -> Reaped {
        let mut reaped = Reaped::default();
        let tcp: Vec<_> = {
            let mut map = lock(&self.tcp);
            let gone: Vec<(String, Expiry)> = map
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), tcp_expiry(s.age(now), tcp)?)))
                .collect();
            gone.into_iter()
                .filter_map(|(k, why)| Some((map.remove(&k)?, why)))
                .collect()
        };
        let udp: Vec<_> = {
            let mut map = lock(&self.udp);
            let gone: Vec<String> = map
                .iter()
                .filter(|(_, s)| now.saturating_duration_since(s.last_active()) > udp_idle)
                .map(|(k, _)| k.clone())
                .collect();
            gone.iter().filter_map(|k| map.remove(k)).collect()
        };
        reaped.idle += udp.len();
        for s in udp {
            s.close();
        }
        for (s, why) in tcp {
            tracing::debug!(sid = %s.sid, ?why, "reaped session");
            match why {
                Expiry::Idle => reaped.idle += 1,
                Expiry::Unclaimed => reaped.unclaimed += 1,
            }
            self.retire(s).await;
        }
        reaped
    }

    /// The answer naming `sids` was handed to the connection: their unclaimed clocks start.
    pub fn handed_off(&self, sids: &[String], now: Instant) {
        let map = lock(&self.tcp);
        for sid in sids {
            if let Some(s) = map.get(sid) {
                s.handed_off(now);
            }
        }
    }

    /// Counts live sessions (stats; one pass under each map's lock).
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for s in lock(&self.tcp).values() {
            match s.dialect() {
                Dialect::Pipelined => c.tcp_pipelined += 1,
                Dialect::Legacy => c.tcp_legacy += 1,
                Dialect::New => c.tcp_new += 1,
            }
            c.buffered_bytes += s.buffered() as u64;
        }
        for s in lock(&self.udp).values() {
            c.udp += 1;
            c.buffered_bytes += s.queued_bytes() as u64;
        }
        c
    }

    /// Notes the dialect of a session's data op (stats), which also marks the session as named
    /// by its client (the unclaimed rule, §5.1).
    pub fn note_data(&self, sid: &str, seq: bool) {
        if let Some(s) = self.tcp(sid) {
            s.note_dialect(if seq {
                Dialect::Pipelined
            } else {
                Dialect::Legacy
            });
        }
    }

    /// Wakes every parked seq'd poll so it answers now (shutdown: in-flight batches finish
    /// before the grace period runs out instead of sitting out their long-poll).
    pub fn preempt_all(&self) {
        for s in lock(&self.tcp).values() {
            s.preempt.notify_waiters();
        }
    }

    /// Closes every session (node shutdown).
    pub async fn close_all(&self) {
        let tcp: Vec<_> = lock(&self.tcp).drain().map(|(_, s)| s).collect();
        let udp: Vec<_> = lock(&self.udp).drain().map(|(_, s)| s).collect();
        for s in udp {
            s.close();
        }
        for s in tcp {
            self.retire(s).await;
        }
    }
}
