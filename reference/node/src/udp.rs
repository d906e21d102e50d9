//! A UDP session: a connected socket (so only the chosen peer's datagrams count) and a bounded
//! datagram queue that drops the oldest when full (§8).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use seqtun_wire::params::UDP_RECV_BUF_BYTES;
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::exchange;
use crate::lock;
use crate::memory::{Charge, Class};
use crate::table::Slot;

/// Log the first dropped datagram and then every this many.
const DROP_LOG_STRIDE: u64 = 100;

struct Queue {
    pkts: VecDeque<Bytes>,
    done: bool,
    dropped: u64,
    /// The queued datagrams' cost to the memory budget (§5.6).
    charge: Charge,
}

pub struct UdpSession {
    pub sid: String,
    socket: Arc<UdpSocket>,
    queue: Mutex<Queue>,
    limit: usize,
    pub readable: Notify,
    last_active: Mutex<Instant>,
    reader: Mutex<Option<AbortHandle>>,
    _slot: Slot,
}

impl UdpSession {
    /// Bytes of the datagrams queued for the client (stats only).
    pub fn queued_bytes(&self) -> usize {
        lock(&self.queue).pkts.iter().map(Bytes::len).sum()
    }

    pub fn start(sid: String, socket: UdpSocket, limit: usize, slot: Slot) -> Arc<Self> {
        let charge = slot.memory().charge(Class::Udp);
        let session = Arc::new(Self {
            sid,
            socket: Arc::new(socket),
            queue: Mutex::new(Queue {
                pkts: VecDeque::new(),
                done: false,
                dropped: 0,
                charge,
            }),
            limit,
            readable: Notify::new(),
            last_active: Mutex::new(Instant::now()),
            reader: Mutex::new(None),
            _slot: slot,
        });
        let task = tokio::spawn(Arc::clone(&session).recv_loop());
        *lock(&session.reader) = Some(task.abort_handle());
        session
    }

    async fn recv_loop(self: Arc<Self>) {
        let mut buf = vec![0u8; UDP_RECV_BUF_BYTES];
        loop {
            match self.socket.recv(&mut buf).await {
                Ok(0) => continue,
                Ok(n) => {
                    self.touch();
                    let mut q = lock(&self.queue);
                    if q.pkts.len() >= self.limit
                        && let Some(old) = q.pkts.pop_front()
                    {
                        q.charge.shrink(old.len());
                        q.dropped += 1;
                        if q.dropped % DROP_LOG_STRIDE == 1 {
                            tracing::info!(sid = %self.sid, dropped = q.dropped, limit = self.limit,
                                "udp queue full, dropping oldest datagrams");
                        }
                    }
                    let pool = q.charge.memory().buffer_limit();
                    if q.charge.try_grow(n, pool).is_err() {
                        // The budget's buffer pool is full: this datagram is lost, as one
                        // arriving at a full queue would be (§5.6).
                        q.charge
                            .memory()
                            .dropped_datagrams
                            .fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    q.pkts.push_back(Bytes::copy_from_slice(&buf[..n]));
                    drop(q);
                    self.readable.notify_waiters();
                }
                Err(e) => {
                    tracing::debug!(sid = %self.sid, error = %e, "udp recv failed");
                    break;
                }
            }
        }
        lock(&self.queue).done = true;
        self.readable.notify_waiters();
    }

    pub fn touch(&self) {
        *lock(&self.last_active) = Instant::now();
    }

    pub fn last_active(&self) -> Instant {
        *lock(&self.last_active)
    }

    pub fn is_ready(&self) -> bool {
        let q = lock(&self.queue);
        q.done || !q.pkts.is_empty()
    }

    pub fn queued(&self) -> usize {
        lock(&self.queue).pkts.len()
    }

    /// Takes every queued datagram, oldest first; `eof` once the socket failed.
    /// The datagrams stay charged until the current exchange's answer is written.
    pub fn drain(&self) -> (Vec<Bytes>, bool) {
        let mut q = lock(&self.queue);
        let n = q.charge.bytes();
        exchange::hold(q.charge.split_into(n, Class::Replies));
        (q.pkts.drain(..).collect(), q.done)
    }

    pub async fn send(&self, datagram: &[u8]) -> std::io::Result<()> {
        self.socket.send(datagram).await.map(|_| ())
    }

    pub fn close(&self) {
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
        let mut q = lock(&self.queue);
        q.done = true;
        q.pkts.clear();
        q.charge.shrink_to(0);
        drop(q);
        self.readable.notify_waiters();
    }
}
