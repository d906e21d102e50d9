//! One HTTP exchange (a batch or single-op request and its answer), as the session and memory
//! code sees it from inside.
//!
//! Two things must outlive the handler's own variables: the memory charge of the bytes drained
//! for the answer (given back only once the answer is written or dropped, §5.6), and the list
//! of sessions the request created. When the exchange ends without its answer having been
//! handed to the connection (the client or the relay went away first), nobody will ever learn
//! those sids, so they are closed at once instead of holding sockets and buffers until the
//! reaper (§5.1).
//!
//! The exchange travels as a tokio task-local, so the op handlers need no extra parameter;
//! tasks a batch spawns carry it along through [`spawn`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::memory::Charge;
use crate::{NodeState, lock};

tokio::task_local! {
    static EXCHANGE: Arc<Exchange>;
}

/// What one exchange holds on to.
pub struct Exchange {
    state: Arc<NodeState>,
    held: Mutex<Vec<Charge>>,
    created: Mutex<Vec<String>>,
    answered: AtomicBool,
}

impl Exchange {
    pub fn new(state: &Arc<NodeState>) -> Arc<Self> {
        Arc::new(Self {
            state: Arc::clone(state),
            held: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
            answered: AtomicBool::new(false),
        })
    }

    /// The answer was handed to the connection: the sessions it names are the client's now,
    /// and their unclaimed clocks start (§5.1).
    pub fn answered(&self) {
        if self.answered.swap(true, Ordering::AcqRel) {
            return;
        }
        let sids = std::mem::take(&mut *lock(&self.created));
        if !sids.is_empty() {
            self.state.table.handed_off(&sids, Instant::now());
        }
    }

    /// Runs `fut` with this exchange as the current one.
    pub fn run<F: Future>(self: &Arc<Self>, fut: F) -> impl Future<Output = F::Output> {
        EXCHANGE.scope(Arc::clone(self), fut)
    }

    /// Bytes held for this exchange's answer.
    pub fn held_bytes(&self) -> usize {
        lock(&self.held).iter().map(Charge::bytes).sum()
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if self.answered.load(Ordering::Acquire) {
            return;
        }
        let sids = std::mem::take(&mut *lock(&self.created));
        if sids.is_empty() {
            return;
        }
        self.state.stats.orphans_closed(sids.len());
        tracing::debug!(
            count = sids.len(),
            "request gone before its answer: closing the sessions it opened"
        );
        let state = Arc::clone(&self.state);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for sid in sids {
                    state.table.close(&sid).await;
                }
            });
        }
    }
}

/// Keeps `charge` until the current exchange ends; without one it is given back now.
pub fn hold(charge: Charge) {
    let _ = EXCHANGE.try_with(|ex| lock(&ex.held).push(charge));
}

/// Notes a session the current exchange created.
pub fn created(sid: &str) {
    let _ = EXCHANGE.try_with(|ex| lock(&ex.created).push(sid.to_owned()));
}

/// `tokio::spawn` that carries the current exchange into the new task (a batch's connects and
/// seq'd ops run as tasks of their own).
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match EXCHANGE.try_with(Arc::clone) {
        Ok(ex) => tokio::spawn(EXCHANGE.scope(ex, fut)),
        Err(_) => tokio::spawn(fut),
    }
}
