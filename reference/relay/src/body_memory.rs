//! A relay-wide cap on request-body bytes held at once (`--max-body-memory-bytes`).
//!
//! Each deployment allows 30 concurrent calls of up to 50 MiB, and any number of deployment
//! ids may be used, so the per-call limits alone let a client hold gigabytes. Bodies are
//! charged as they arrive; one that does not fit is refused (Google's 503 page) and its bytes
//! are given back at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use seqtun_runtime::conn::body::Hold;

#[derive(Debug)]
pub struct BodyMemory {
    limit: usize,
    used: AtomicUsize,
}

impl BodyMemory {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// An empty charge for one body.
    pub fn charge(self: &Arc<Self>) -> BodyCharge {
        BodyCharge {
            mem: Arc::clone(self),
            bytes: 0,
        }
    }
}

/// One body's bytes, given back when dropped.
#[derive(Debug)]
pub struct BodyCharge {
    mem: Arc<BodyMemory>,
    bytes: usize,
}

impl Hold for BodyCharge {
    fn grow(&mut self, n: usize) -> Result<(), String> {
        let m = &self.mem;
        let mut cur = m.used.load(Ordering::Acquire);
        loop {
            let next = cur.saturating_add(n);
            if next > m.limit {
                return Err(format!(
                    "relay body memory spent: {cur} of {} bytes held (raise --max-body-memory-bytes)",
                    m.limit
                ));
            }
            match m
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(seen) => cur = seen,
            }
        }
        self.bytes += n;
        Ok(())
    }

    fn release(&mut self) {
        self.mem.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.bytes = 0;
    }
}

impl Drop for BodyCharge {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_at_its_edge_and_drops_give_back() {
        let m = BodyMemory::new(100);
        let mut a = m.charge();
        a.grow(60).unwrap();
        let mut b = m.charge();
        b.grow(40).unwrap();
        let err = b.grow(1).unwrap_err();
        assert!(err.contains("--max-body-memory-bytes"), "{err}");
        drop(a);
        assert_eq!(m.used(), 40);
        b.release();
        assert_eq!(m.used(), 0);
    }
}
