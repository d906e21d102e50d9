//! The multiplexer: every session hands its ops to one task that coalesces them into batches
//! (§6.3), picks a relay for each (§6.4) and routes each reply back to its op (§3.1).
//!
//! The decisions (when to fire, which relay, which reply belongs to which op) come from
//! `seqtun-wire`; this task only owns the clock, the channel and the spawned round trips. A
//! failed batch fails its ops and is never retried: a retried write could duplicate bytes. A
//! batch the node refused as too large (413) is the exception: no op of it ran, so it is
//! repacked smaller and sent again (`refused`).

mod refused;
pub mod sizes;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seqtun_wire::BatchOp;
use seqtun_wire::client::replies::{Expect, OpFailure, OpResult, fail_all, split};
use seqtun_wire::client::timeouts::batch_timeout;
use seqtun_wire::client::{Batch, Batcher, ClientFaults, ClientParams, OpToken, RelayPool};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::health::Health;
use crate::stats::{Stats, add, sub};
use crate::transport::{Transport, TransportError};
pub use sizes::Sizes;

/// Ops waiting for the multiplexer; senders wait when it is this far behind.
pub const SUBMIT_QUEUE: usize = 1024;

/// Where an op's reply goes.
#[derive(Debug)]
pub enum Route {
    Once(oneshot::Sender<OpResult>),
    Session {
        tx: mpsc::UnboundedSender<(OpToken, OpResult)>,
        token: OpToken,
    },
    /// `close`: nobody waits for its reply.
    Ignore,
}

impl Route {
    fn deliver(self, result: OpResult) {
        // A receiver that is gone belongs to a session that already ended.
        match self {
            Route::Once(tx) => {
                let _ = tx.send(result);
            }
            Route::Session { tx, token } => {
                let _ = tx.send((token, result));
            }
            Route::Ignore => {}
        }
    }
}

struct Submit {
    op: BatchOp,
    route: Route,
    /// Someone waits for it: its batch fires within `coalesce_prompt` (§6.3).
    prompt: bool,
}

/// How sessions reach the multiplexer.
#[derive(Clone)]
pub struct MuxHandle {
    tx: mpsc::Sender<Submit>,
    /// How large a session's ops may be (§6.3).
    pub sizes: Arc<Sizes>,
}

impl MuxHandle {
    /// Queues an op that may wait for company; false when the client is shutting down.
    pub async fn submit(&self, op: BatchOp, route: Route) -> bool {
        self.submit_paced(op, route, false).await
    }

    /// Queues an op, prompt (fired within `coalesce_prompt`) or not.
    pub async fn submit_paced(&self, op: BatchOp, route: Route, prompt: bool) -> bool {
        let submit = Submit { op, route, prompt };
        self.tx.send(submit).await.is_ok()
    }

    /// Sends one op and waits for its reply. Someone is waiting (an open, a shutdown's
    /// close), so the op is prompt.
    pub async fn request(&self, op: BatchOp) -> OpResult {
        let (tx, rx) = oneshot::channel();
        if !self.submit_paced(op, Route::Once(tx), true).await {
            return Err(OpFailure::Batch("the client is shutting down".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(OpFailure::Batch("the client is shutting down".into())))
    }
}

/// What the batch tasks share.
pub struct Relays {
    pub params: ClientParams,
    /// Deliberate faults (the conformance mutant check): reply matching and the body cap read
    /// them here.
    pub faults: ClientFaults,
    pub transports: Vec<Arc<Transport>>,
    pub sizes: Arc<Sizes>,
    pool: Mutex<RelayPool>,
    freed: Notify,
    pub stats: Arc<Stats>,
    pub health: Arc<Health>,
    /// The last batch failure logged per relay: a run of identical failures (every session
    /// of a client with a wrong key) is logged once, not once per batch.
    last_failure: Mutex<Vec<Option<String>>>,
}

impl Relays {
    pub fn new(
        params: ClientParams,
        faults: ClientFaults,
        transports: Vec<Arc<Transport>>,
        stats: Arc<Stats>,
        health: Arc<Health>,
    ) -> Arc<Self> {
        let pool = RelayPool::new(transports.len(), &params);
        let overhead = transports
            .iter()
            .map(|t| t.body(&[]).len())
            .max()
            .unwrap_or_default();
        let last_failure = Mutex::new(vec![None; transports.len()]);
        Arc::new(Self {
            sizes: Arc::new(Sizes::new(&params, &faults, overhead)),
            params,
            faults,
            transports,
            pool: Mutex::new(pool),
            freed: Notify::new(),
            stats,
            health,
            last_failure,
        })
    }

    /// Logs a batch failure unless relay `i` failed the same way last time; a success in
    /// between re-arms it.
    fn log_failure(&self, i: usize, text: String) {
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        let slot = last.get_mut(i);
        match slot {
            Some(prev) if prev.as_deref() == Some(text.as_str()) => {
                tracing::debug!("batch failed (again): {text}");
            }
            Some(prev) => {
                tracing::warn!("batch failed: {text}");
                *prev = Some(text);
            }
            None => tracing::warn!("batch failed: {text}"),
        }
    }

    fn clear_failure(&self, i: usize) {
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = last.get_mut(i) {
            *slot = None;
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, RelayPool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a relay with room and counts the batch in flight there.
    async fn acquire(&self) -> usize {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(i) = self.pool().pick(now()) {
                return i;
            }
            freed.await;
        }
    }
}

/// `now` for the wire's state machines, from tokio's clock so paused-clock tests work.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Starts the multiplexer task.
pub fn start(relays: Arc<Relays>) -> (MuxHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(SUBMIT_QUEUE);
    let sizes = Arc::clone(&relays.sizes);
    let task = tokio::spawn(run(rx, relays));
    (MuxHandle { tx, sizes }, task)
}

async fn run(mut rx: mpsc::Receiver<Submit>, relays: Arc<Relays>) {
    let mut batcher: Batcher<Route> =
        Batcher::new(&relays.params, relays.sizes.overhead, &relays.faults);
    loop {
        let deadline = batcher.deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Submit { op, route, prompt }) => {
                    batcher.set_max_body(relays.sizes.cap());
                    let ready = if prompt {
                        batcher.push_prompt(op, route, now())
                    } else {
                        batcher.push(op, route, now())
                    };
                    for batch in ready {
                        tokio::spawn(send(Arc::clone(&relays), batch));
                    }
                }
                None => {
                    if let Some(batch) = batcher.take() {
                        tokio::spawn(send(Arc::clone(&relays), batch));
                    }
                    return;
                }
            },
            () = sleep_until(deadline), if deadline.is_some() => {
                if let Some(batch) = batcher.take_due(now()) {
                    tokio::spawn(send(Arc::clone(&relays), batch));
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One batch's round trip, on the relay the pool picks. Boxed with a named type because a
/// refused batch sends its parts with it again.
fn send(relays: Arc<Relays>, batch: Batch<Route>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(round_trip(relays, batch))
}

async fn round_trip(relays: Arc<Relays>, batch: Batch<Route>) {
    let count = batch.len();
    let timeout = batch_timeout(relays.params.request_timeout, batch.carries_seq());
    // What each reply must match, taken before the ops are serialised.
    let expect: Vec<Expect> = batch.ops.iter().map(Expect::of).collect();
    let i = relays.acquire().await;
    let transport = Arc::clone(&relays.transports[i]);
    let body = transport.body(&batch.ops);
    let body_len = body.len();
    let started = tokio::time::Instant::now();
    add(&relays.stats.inflight_batches, 1);
    add(&relays.stats.ops, count as u64);
    let outcome = tokio::time::timeout(timeout, transport.send(body)).await;
    sub(&relays.stats.inflight_batches, 1);
    if !relays.faults.ignore_body_limit && refused::too_large(&outcome) {
        relays.stats.record_rtt(started.elapsed());
        add(&relays.stats.refused_batches, 1);
        relays.pool().done(i, true, now());
        relays.freed.notify_waiters();
        refused::repack_and_resend(&relays, batch, body_len);
        return;
    }
    let Batch { tags, .. } = batch;
    let (results, ok) = match outcome {
        Ok(Ok(resp)) => {
            let (replies, relay_error) = (resp.r.len(), resp.e.clone());
            let split = split(resp, &expect, &relays.faults);
            if !split.clean {
                let first = split.results.iter().find_map(|r| r.as_ref().err());
                tracing::warn!(relay = %transport.spec.url, replies, ops = count, error = ?relay_error, failure = ?first.map(ToString::to_string), "batch answered incompletely or with replies that are not its ops'; the ops concerned fail");
            }
            (split.results, split.clean)
        }
        Ok(Err(e)) => {
            relays.log_failure(i, e.to_string());
            (fail_all(count, &e.to_string()), false)
        }
        Err(_) => {
            let e = TransportError::Timeout(timeout);
            relays.log_failure(i, format!("relay {}: {e}", transport.spec.url));
            (fail_all(count, &e.to_string()), false)
        }
    };
    if ok {
        relays.clear_failure(i);
    }
    relays.health.batch_done(ok);
    relays.stats.record_rtt(started.elapsed());
    add(&relays.stats.batches, 1);
    if ok {
        relays.sizes.answered(body_len);
        relays
            .stats
            .largest_body
            .fetch_max(body_len as u64, std::sync::atomic::Ordering::Relaxed);
    } else {
        add(&relays.stats.failed_batches, 1);
    }
    {
        let mut pool = relays.pool();
        let was_cooling = pool.is_cooling(i, now());
        pool.done(i, ok, now());
        if !was_cooling && pool.is_cooling(i, now()) {
            tracing::warn!(relay = %transport.spec.url, "relay failed {} batches in a row; cooling down for {:?}", relays.params.relay_failure_threshold, relays.params.relay_cooldown);
        }
    }
    relays.freed.notify_waiters();
    for (route, result) in tags.into_iter().zip(results) {
        relays.stats.reply(&result);
        route.deliver(result);
    }
}
