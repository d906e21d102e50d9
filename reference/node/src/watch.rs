//! Waiting on several sessions at once: a batch returns as soon as *any* of its sessions has
//! something to drain (§5.3), and an active batch then settles briefly so a multi-packet
//! answer lands in one reply.

use std::sync::Arc;

use futures_util::future::select_all;
use seqtun_wire::drain::{Settle, SettleStep};
use seqtun_wire::params::NodeParams;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use crate::tcp::TcpSession;
use crate::udp::UdpSession;

/// A session a batch drains.
#[derive(Clone)]
pub enum Watched {
    Tcp(Arc<TcpSession>),
    Udp(Arc<UdpSession>),
}

impl Watched {
    /// The session's id.
    pub fn sid(&self) -> &str {
        match self {
            Self::Tcp(s) => &s.sid,
            Self::Udp(s) => &s.sid,
        }
    }

    /// Marks client activity (§5.1).
    pub fn touch(&self) {
        match self {
            Self::Tcp(s) => s.touch(),
            Self::Udp(s) => s.touch(),
        }
    }

    /// Writes uplink bytes (TCP) or sends them as one datagram (UDP).
    pub async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Self::Tcp(s) => s.write(bytes).await.map_err(|e| e.to_string()),
            Self::Udp(s) => s.send(bytes).await.map_err(|e| e.to_string()),
        }
    }

    fn notify(&self) -> &Notify {
        match self {
            Self::Tcp(s) => &s.readable,
            Self::Udp(s) => &s.readable,
        }
    }

    fn is_ready(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_ready(),
            Self::Udp(s) => s.is_ready(),
        }
    }

    /// Grows whenever more downlink arrives: buffered bytes, or queued datagrams.
    fn progress(&self) -> usize {
        match self {
            Self::Tcp(s) => s.buffered(),
            Self::Udp(s) => s.queued(),
        }
    }

    fn key(&self) -> *const () {
        match self {
            Self::Tcp(s) => Arc::as_ptr(s).cast(),
            Self::Udp(s) => Arc::as_ptr(s).cast(),
        }
    }
}

/// Adds `w` unless the same session is already in `set`.
pub fn add_unique(set: &mut Vec<Watched>, w: Watched) {
    if !set.iter().any(|x| x.key() == w.key()) {
        set.push(w);
    }
}

/// Waits until any session in `set` is ready or `deadline` passes; true when one is ready.
/// An empty set has nothing to wait for and returns false at once.
pub async fn wait_any(set: &[Watched], deadline: Instant) -> bool {
    if set.is_empty() {
        return false;
    }
    loop {
        // Register interest before looking, so a push between the look and the wait is not
        // lost (`notify_waiters` only wakes registered waiters).
        let mut waits: Vec<_> = set
            .iter()
            .map(|w| Box::pin(w.notify().notified()))
            .collect();
        for w in &mut waits {
            w.as_mut().enable();
        }
        if set.iter().any(Watched::is_ready) {
            return true;
        }
        tokio::select! {
            _ = select_all(waits) => {}
            () = sleep_until(deadline) => return set.iter().any(Watched::is_ready),
        }
    }
}

/// After an active batch woke: keep waiting while the buffered total still grows (§5.3).
pub async fn settle(set: &[Watched], params: &NodeParams) {
    let total = || set.iter().map(Watched::progress).sum::<usize>();
    let now = Instant::now().into_std();
    let mut settle = Settle::start(now, total(), params.settle_step, params.settle_max);
    let mut step = settle.first_check(now);
    while let SettleStep::WaitUntil(at) = step {
        sleep_until(Instant::from_std(at)).await;
        step = settle.observe(Instant::now().into_std(), total());
    }
}
