//! The pair: a [`SimClient`] and a [`SimNode`] joined by a [`Link`] with latency, jitter and
//! loss (the relay hop, §1.6), on one simulated clock. Like quinn-proto's test `Pair`, it
//! moves everything that is due, then jumps to the next instant anything can happen, so a
//! minute of protocol time runs in microseconds and the same seed always gives the same run.

use std::time::{Duration, Instant};

use seqtun_wire::BatchResponse;
use seqtun_wire::client::ClientParams;
use seqtun_wire::client::timeouts::batch_timeout;
use seqtun_wire::params::NodeParams;
use seqtun_wire::rules::Rules;

use crate::client::SimClient;
use crate::node::SimNode;

/// The hop between client and node.
#[derive(Debug, Clone)]
pub struct Link {
    /// One-way delay.
    pub latency: Duration,
    /// Up to this much more, drawn per message: messages overtake each other.
    pub jitter: Duration,
    /// Chance (0–1) that a message is lost.
    pub loss: f64,
    /// Lose every reply from now on (a relay that runs the batch and drops the answer).
    pub lose_replies: bool,
    rng: u64,
}

impl Link {
    pub fn new(latency: Duration, seed: u64) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            lose_replies: false,
            rng: seed,
        }
    }

    /// splitmix64: small, seedable and good enough to scatter delays.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// When a message sent at `now` arrives, or `None` if it is lost.
    fn carry(&mut self, now: Instant) -> Option<Instant> {
        let lost = (self.next() as f64 / u64::MAX as f64) < self.loss;
        let jitter_ns = self.jitter.as_nanos() as u64;
        let extra = if jitter_ns == 0 {
            0
        } else {
            self.next() % jitter_ns
        };
        (!lost).then(|| now + self.latency + Duration::from_nanos(extra))
    }
}

enum Transit {
    Request(u64, Vec<serde_json::Value>),
    Reply(u64, BatchResponse),
    /// The client's HTTP timeout for a batch whose request or reply was lost.
    Timeout(u64),
}

pub struct Pair {
    pub t0: Instant,
    pub now: Instant,
    pub node: SimNode,
    pub client: SimClient,
    pub link: Link,
    wire: Vec<(Instant, Transit)>,
    /// Requests the node received: (batch id, when).
    pub received: Vec<(u64, Instant)>,
}

impl Pair {
    pub fn new(node: NodeParams, rules: Rules, client: ClientParams, link: Link) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            node: SimNode::new(node, rules, t0),
            client: SimClient::new(client),
            link,
            wire: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Time since the pair started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    fn send(&mut self, transit: Transit, timeout: Duration) {
        let carried = self.link.carry(self.now);
        let carried =
            carried.filter(|_| !(self.link.lose_replies && matches!(transit, Transit::Reply(..))));
        match carried {
            Some(at) => self.wire.push((at, transit)),
            None => {
                let id = match transit {
                    Transit::Request(id, _) | Transit::Reply(id, _) | Transit::Timeout(id) => id,
                };
                self.wire.push((self.now + timeout, Transit::Timeout(id)));
            }
        }
    }

    /// Moves everything due now, until nothing more is.
    fn settle_now(&mut self) {
        for _ in 0..10_000 {
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.wire)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            self.wire = later;
            let mut moved = !due.is_empty();
            for (_, transit) in due {
                match transit {
                    Transit::Request(id, ops) => {
                        self.received.push((id, now));
                        self.node.receive(id, ops, now);
                    }
                    Transit::Reply(id, resp) => self.client.on_reply(id, resp, now),
                    Transit::Timeout(id) => self.client.on_failed(id, now),
                }
            }
            for (id, r) in self.node.poll(now) {
                moved = true;
                let timeout = self.client.params.request_timeout;
                self.send(Transit::Reply(id, BatchResponse { r, e: None }), timeout);
            }
            if let Some((id, ops)) = self.client.flush(now) {
                moved = true;
                let seq = ops.iter().any(|o| o.seq.is_some());
                let timeout = batch_timeout(self.client.params.request_timeout, seq);
                let ops = ops
                    .iter()
                    .map(|o| serde_json::to_value(o).unwrap())
                    .collect();
                self.send(Transit::Request(id, ops), timeout);
            }
            if !moved {
                return;
            }
        }
        panic!("the pair livelocked at {:?}", self.elapsed());
    }

    /// Moves to the next instant anything happens; false when nothing ever will.
    pub fn step(&mut self) -> bool {
        self.settle_now();
        let now = self.now;
        let next = self
            .wire
            .iter()
            .map(|(at, _)| *at)
            .chain(self.node.next_wakeup())
            .chain(self.client.next_wakeup(now))
            .filter(|t| *t > now)
            .min();
        match next {
            Some(t) => {
                self.now = t;
                true
            }
            None => false,
        }
    }

    /// Runs until `done` holds (true) or `limit` of simulated time passed (false).
    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.settle_now();
            if done(self) {
                return true;
            }
            if !self.step() || self.now > end {
                self.now = self.now.min(end);
                return done(self);
            }
        }
    }
}
