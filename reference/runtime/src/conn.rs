//! Connection management against slow and hostile peers, shared by the node and the relay.
//!
//! Both listen on ports anyone can reach. Without limits, a peer that opens connections and
//! sends nothing (or half a header, or a body one byte a minute) holds a file descriptor
//! forever, and once the process runs out of descriptors every request fails, the ones from
//! real clients included. So every connection is in one of four phases, each with its own
//! rule:
//!
//! | phase | until | limit |
//! |---|---|---|
//! | `Head` | the request head is complete | `header_timeout` from the first byte (or from accept) |
//! | `Body` | the handler has read the body | the body's own deadline ([`body`]) |
//! | `Busy` | the answer is handed back | none: a parked long-poll is legitimate |
//! | `Idle` | the next request's first byte | `idle_timeout` |
//!
//! and the number of connections is capped below the descriptor limit. At the cap a new
//! connection is admitted by closing the most stalled one: the one whose last progress (its
//! accept, a byte read, a phase change) is oldest, in any phase but `Busy`; a connection whose
//! request is being answered is never shed. Only when every connection is `Busy` is the
//! newcomer itself closed. Ranking by phase instead would be wrong: if partial heads went first,
//! a stream of attackers that each send one complete request and then idle would make every
//! newly accepted connection (still in `Head` until its bytes are parsed) the next victim.
//! A slowloris therefore competes only with itself, and a real request on a new connection,
//! which makes progress at once, gets in.
//!
//! The deadlines run on tokio's clock (testable with a paused clock); the phase is tracked by
//! the IO wrapper ([`io::TrackedIo`]: a first byte while `Idle` starts a new `Head`) and by the
//! service wrapper ([`track`]: the request head arrived; the answer was dropped).

pub mod body;
pub mod fd_limit;
pub mod io;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a client may take to send a request head (nginx: 60 s).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection is kept (nginx: 75 s). Keep it above the idle
/// timeout of the pools that call us (the relay's is 30 s, the client's 60 s), so a pooled
/// connection is never closed under a request that is just being sent.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// Connections kept at most when the descriptor limit allows more.
pub const MAX_CONNECTIONS_CEILING: usize = 8192;

/// The limits of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub body: body::BodyRate,
}

impl ConnLimits {
    /// The defaults, with the connection cap derived from the descriptor limit now.
    pub fn with_defaults() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: default_max_connections(fd_limit::current()),
            body: body::BodyRate::default(),
        }
    }
}

/// The default connection cap: half the descriptor limit (the other half is for upstream
/// sockets, files and the listener), at most [`MAX_CONNECTIONS_CEILING`], at least 16.
pub fn default_max_connections(nofile: u64) -> usize {
    let half = usize::try_from(nofile / 2).unwrap_or(usize::MAX);
    half.clamp(16, MAX_CONNECTIONS_CEILING)
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// Waiting for (the rest of) a request head. Shed first.
    Head = 0,
    /// Between requests.
    Idle = 1,
    /// The handler is reading the body.
    Body = 2,
    /// The handler runs or the answer is being written. Never shed.
    Busy = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Head,
            1 => Self::Idle,
            2 => Self::Body,
            _ => Self::Busy,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Idle => "idle",
            Self::Body => "body",
            Self::Busy => "busy",
        }
    }
}

/// One connection's phase and the signals around it.
#[derive(Debug)]
pub struct ConnState {
    id: u64,
    epoch: Instant,
    phase: AtomicU8,
    /// When the phase began, in ms since `epoch`.
    since_ms: AtomicU64,
    /// When the connection last made progress (accepted, bytes read, a phase change), in ms
    /// since `epoch`: the order in which connections are shed.
    progress_ms: AtomicU64,
    changed: Notify,
    kill: Notify,
    killed: AtomicBool,
    pub(crate) counters: Arc<ConnCounters>,
}

impl ConnState {
    fn new(id: u64, epoch: Instant, counters: Arc<ConnCounters>) -> Self {
        let s = Self {
            id,
            epoch,
            counters,
            phase: AtomicU8::new(Phase::Head as u8),
            since_ms: AtomicU64::new(0),
            progress_ms: AtomicU64::new(0),
            changed: Notify::new(),
            kill: Notify::new(),
            killed: AtomicBool::new(false),
        };
        s.stamp();
        s
    }

    fn now_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis() as u64
    }

    fn stamp(&self) {
        let ms = self.now_ms();
        self.since_ms.store(ms, Ordering::Release);
        self.progress_ms.store(ms, Ordering::Release);
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    fn since(&self) -> Instant {
        self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Acquire))
    }

    /// Moves to `phase` (restarting its clock) and wakes the watchdog.
    pub fn enter(&self, phase: Phase) {
        self.stamp();
        self.phase.store(phase as u8, Ordering::Release);
        self.changed.notify_one();
    }

    /// Bytes arrived: progress, and `Idle` to `Head` when they start a new request.
    pub(crate) fn saw_bytes(&self) {
        self.progress_ms.store(self.now_ms(), Ordering::Release);
        if self
            .phase
            .compare_exchange(
                Phase::Idle as u8,
                Phase::Head as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.stamp();
            self.changed.notify_one();
        }
    }

    fn shed(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }
}

/// Why a connection was closed by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Its phase's timeout passed (header or idle).
    TimedOut(Phase),
    /// Shed to admit a newer connection at the cap.
    Shed,
}

/// Counters of one listener (stats).
#[derive(Debug, Default)]
pub struct ConnCounters {
    pub accepted: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub shed: AtomicU64,
    pub refused: AtomicU64,
}

/// The same counters as plain numbers, with the connections open now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConnSnapshot {
    pub open: u64,
    pub max: u64,
    pub accepted: u64,
    pub header_timeouts: u64,
    pub idle_timeouts: u64,
    pub body_timeouts: u64,
    pub shed: u64,
    pub refused: u64,
}

/// Every open connection of one listener, for the cap and for shedding.
#[derive(Debug)]
pub struct Registry {
    pub limits: ConnLimits,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    pub counters: Arc<ConnCounters>,
}

/// Keeps a connection registered until dropped.
#[derive(Debug)]
pub struct Admitted {
    registry: Arc<Registry>,
    pub state: Arc<ConnState>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = lock(&self.registry.open);
        if open
            .get(&self.state.id)
            .is_some_and(|s| Arc::ptr_eq(s, &self.state))
        {
            open.remove(&self.state.id);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    pub fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            counters: Arc::default(),
        })
    }

    /// Registers a new connection, shedding the most stalled one at the cap; `None` when
    /// every connection is busy (the caller closes the newcomer).
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = lock(&self.open);
        if open.len() >= self.limits.max_connections {
            let victim = open
                .values()
                .filter(|s| s.phase() != Phase::Busy)
                .min_by_key(|s| (s.progress_ms.load(Ordering::Relaxed), s.phase()))
                .map(|s| s.id);
            match victim.and_then(|id| open.remove(&id)) {
                Some(v) => {
                    v.shed();
                    self.counters.shed.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new(id, self.epoch, Arc::clone(&self.counters)));
        open.insert(id, Arc::clone(&state));
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        Some(Admitted {
            registry: Arc::clone(self),
            state,
        })
    }

    pub fn open(&self) -> usize {
        lock(&self.open).len()
    }

    pub fn snapshot(&self) -> ConnSnapshot {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConnSnapshot {
            open: self.open() as u64,
            max: self.limits.max_connections as u64,
            accepted: get(&c.accepted),
            header_timeouts: get(&c.header_timeouts),
            idle_timeouts: get(&c.idle_timeouts),
            body_timeouts: get(&c.body_timeouts),
            shed: get(&c.shed),
            refused: get(&c.refused),
        }
    }

    /// Runs `conn` (a hyper connection future) until it ends, its phase times out, or it is
    /// shed; returns why we closed it, if we did. Dropping `conn` closes the socket.
    pub async fn run<F: Future>(&self, admitted: &Admitted, conn: F) -> Option<Closed> {
        let closed = tokio::select! {
            _ = conn => None,
            why = watchdog(&admitted.state, &self.limits) => Some(why),
        };
        match closed {
            Some(Closed::TimedOut(Phase::Head)) => &self.counters.header_timeouts,
            Some(Closed::TimedOut(_)) => &self.counters.idle_timeouts,
            _ => return closed,
        }
        .fetch_add(1, Ordering::Relaxed);
        closed
    }
}

/// Resolves when the connection must close: its `Head` or `Idle` phase outlived its timeout,
/// or it was shed.
async fn watchdog(s: &ConnState, limits: &ConnLimits) -> Closed {
    loop {
        let kill = s.kill.notified();
        tokio::pin!(kill);
        kill.as_mut().enable();
        if s.killed.load(Ordering::Acquire) {
            return Closed::Shed;
        }
        let phase = s.phase();
        let timeout = match phase {
            Phase::Head => Some(limits.header_timeout),
            Phase::Idle => Some(limits.idle_timeout),
            Phase::Body | Phase::Busy => None,
        };
        let since = s.since();
        tokio::select! {
            () = &mut kill => return Closed::Shed,
            () = s.changed.notified() => {}
            () = sleep_or_forever(timeout.map(|t| since + t)) => {
                if s.phase() == phase && s.since() == since {
                    return Closed::TimedOut(phase);
                }
            }
        }
    }
}

async fn sleep_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Wraps a handler so the connection's phase follows its requests: `Body` when a request head
/// arrives (the handler reads the body, then calls [`body::ConnHandle::busy`]), `Busy` once the
/// handler answered, and `Idle` when hyper drops the answer's body (written or abandoned).
pub fn track<F, Fut, B, E>(
    state: Arc<ConnState>,
    handler: F,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<body::Tracked<B>>,
    Error = E,
    Future = impl Future<Output = Result<hyper::Response<body::Tracked<B>>, E>> + Send,
>
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Send,
    Fut: Future<Output = Result<hyper::Response<B>, E>> + Send,
    B: hyper::body::Body + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        state.enter(Phase::Body);
        req.extensions_mut()
            .insert(body::ConnHandle(Arc::clone(&state)));
        let fut = handler(req);
        let state = Arc::clone(&state);
        async move {
            let resp = fut.await?;
            state.enter(Phase::Busy);
            Ok(resp.map(|b| body::Tracked::new(b, state)))
        }
    })
}

#[cfg(test)]
mod tests;
