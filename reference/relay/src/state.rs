//! What every request handler shares: settings, per-deployment limits, counters, the
//! one-time URL store and the clock of "calls answered" that held calls wait on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use seqtun_runtime::conn::Registry;

use crate::body_memory::BodyMemory;
use crate::config::RelayConfig;
use crate::dialect::Script;
use crate::limits::{self, Limits, Quota};
use crate::lock;
use crate::node_client::NodeClient;
use crate::redirect::{ECHO_PATH, RedirectStore, Stored};
use crate::stats::Stats;

/// One deployment's limits and what is left of them.
pub struct Deployment {
    pub id: String,
    pub limits: Limits,
    slots: Arc<Semaphore>,
    quota: Mutex<Quota>,
}

impl Deployment {
    /// An execution slot, or `None` over the concurrent-execution limit.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// One `UrlFetchApp` call from the day's quota; false once it is spent.
    pub fn take_quota(&self) -> bool {
        lock(&self.quota).try_take(Instant::now())
    }
}

/// Shared relay state.
pub struct RelayState {
    pub cfg: RelayConfig,
    pub script: Script,
    pub node: NodeClient,
    pub stats: Stats,
    pub addr: SocketAddr,
    deployments: Mutex<HashMap<String, Arc<Deployment>>>,
    next_call: AtomicU64,
    next_token: AtomicU64,
    answered: watch::Sender<u64>,
    pub redirects: Mutex<RedirectStore>,
    /// Node fetches that threw or answered other than 200, for rate-limited logging.
    pub node_failures: AtomicU64,
    /// Request-body bytes held across all calls.
    pub body_memory: Arc<BodyMemory>,
    /// The listener's connections (caps, timeouts, shedding).
    pub conns: Arc<Registry>,
}

impl RelayState {
    pub fn new(cfg: RelayConfig, node: NodeClient, addr: SocketAddr) -> Self {
        let script = Script {
            relay_key: cfg.relay_key.clone(),
            node_key: cfg.node_key.clone(),
            diagnostic: cfg.diagnostic,
        };
        let stats = Stats::new(cfg.faults.seed);
        Self {
            script,
            node,
            stats,
            addr,
            body_memory: BodyMemory::new(cfg.max_body_memory_bytes),
            conns: Registry::new(cfg.conn.clone()),
            node_failures: AtomicU64::new(0),
            deployments: Mutex::new(HashMap::new()),
            next_call: AtomicU64::new(0),
            next_token: AtomicU64::new(0),
            answered: watch::channel(0).0,
            redirects: Mutex::new(RedirectStore::new(
                cfg.redirect_ttl,
                cfg.redirect_store_bytes,
            )),
            cfg,
        }
    }

    /// The deployment `id`, created on first use; `None` for an id that is too long or when
    /// `max_deployments` ids already exist (memory stays bounded whatever URLs arrive).
    pub fn deployment(&self, id: &str) -> Option<Arc<Deployment>> {
        if id.is_empty() || id.len() > limits::MAX_DEPLOYMENT_ID_LEN {
            return None;
        }
        let mut all = lock(&self.deployments);
        if let Some(d) = all.get(id) {
            return Some(Arc::clone(d));
        }
        if all.len() >= self.cfg.max_deployments {
            return None;
        }
        let limits = self.cfg.limits_for(id).clone();
        let d = Arc::new(Deployment {
            id: id.to_owned(),
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            quota: Mutex::new(Quota::new(
                limits.calls_per_day,
                self.cfg.quota_window,
                Instant::now(),
            )),
            limits,
        });
        all.insert(id.to_owned(), Arc::clone(&d));
        Some(d)
    }

    /// The number of the next POST, in arrival order across deployments.
    pub fn next_call(&self) -> u64 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh one-time URL token. Unique per relay, but not secret: the emulator serves
    /// loopback tests, and a guessable token changes nothing there.
    pub fn next_token(&self) -> String {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        format!("seqtun{n:x}")
    }

    /// Keeps a reply for one GET and returns the URL that serves it. The host is the one the
    /// client used, so the redirect works through port forwards and fronting alike.
    pub fn store_redirect(
        &self,
        deployment: &str,
        content_type: &'static str,
        body: Bytes,
        host: Option<String>,
    ) -> String {
        let token = self.next_token();
        let host = host.unwrap_or_else(|| self.addr.to_string());
        let stored = Stored {
            deployment: deployment.to_owned(),
            content_type,
            body,
        };
        lock(&self.redirects).put(token.clone(), stored, Instant::now());
        format!("http://{host}{ECHO_PATH}?user_content_key={token}&lib={deployment}")
    }

    /// Records that the node answered one more call.
    pub fn answered(&self) {
        self.answered.send_modify(|n| *n += 1);
    }

    /// Watches the count of answered calls.
    pub fn answered_watch(&self) -> watch::Receiver<u64> {
        self.answered.subscribe()
    }
}

impl seqtun_runtime::metrics::StatsSource for RelayState {
    fn stats_json(&self) -> String {
        serde_json::to_string(&self.stats.snapshot()).unwrap_or_default()
    }

    fn metrics_text(&self) -> String {
        seqtun_runtime::metrics::render("seqtun_relay", self.stats.snapshot().families())
    }
}
