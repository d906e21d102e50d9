//! How large requests may be (§6.3), shared by the multiplexer (which learns from 413 answers)
//! and the sessions (which size their ops by it). The rules are `seqtun_wire`'s; this only
//! holds the numbers where every task can read them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use seqtun_wire::client::body_cap::max_data_payload;
use seqtun_wire::client::params::MIN_BATCH_BODY_BYTES;
use seqtun_wire::client::{BodyCap, ClientFaults, ClientParams};

pub struct Sizes {
    /// Length of the longest envelope without ops, over every relay's dialect and key.
    pub overhead: usize,
    cap: Mutex<BodyCap>,
    /// The cap, readable without the lock.
    cap_now: AtomicUsize,
    /// The largest body a relay has answered (not refused) so far.
    proven_body: AtomicUsize,
    /// `ignore_body_limit`: the pre-fix client, which sized ops by `--max-op-bytes` only.
    unlimited: bool,
}

impl Sizes {
    pub fn new(params: &ClientParams, faults: &ClientFaults, overhead: usize) -> Self {
        let cap = BodyCap::new(params.max_batch_body);
        Self {
            overhead,
            cap_now: AtomicUsize::new(cap.get()),
            cap: Mutex::new(cap),
            proven_body: AtomicUsize::new(MIN_BATCH_BODY_BYTES),
            unlimited: faults.ignore_body_limit,
        }
    }

    /// The request body cap in force.
    pub fn cap(&self) -> usize {
        self.cap_now.load(Ordering::Relaxed)
    }

    /// A body of `body` bytes was refused with 413; returns the lowered cap.
    pub fn refused(&self, body: usize) -> usize {
        let mut cap = self.cap.lock().unwrap_or_else(|p| p.into_inner());
        let now = cap.refused(body);
        self.cap_now.store(now, Ordering::Relaxed);
        now
    }

    /// A relay answered a body of `body` bytes.
    pub fn answered(&self, body: usize) {
        self.proven_body.fetch_max(body, Ordering::Relaxed);
    }

    /// The most raw bytes one `data` op of session `sid` may carry now.
    pub fn max_payload(&self, sid: &str) -> usize {
        if self.unlimited {
            return usize::MAX;
        }
        max_data_payload(self.cap(), self.overhead, sid)
    }

    /// The largest payload of session `sid` a node is known to accept in one op.
    pub fn proven_payload(&self, sid: &str) -> usize {
        if self.unlimited {
            return usize::MAX;
        }
        let proven = self.proven_body.load(Ordering::Relaxed);
        max_data_payload(proven.min(self.cap()), self.overhead, sid)
    }
}
