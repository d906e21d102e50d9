//! A node on simulated time: the session table, scripted upstreams, the reaper, and batches
//! run by the wire's planner and seq'd-op machines ([`crate::batch`]).
//!
//! It is the second executor of those machines (the first is `seqtun-node`'s), written as a
//! level-triggered loop: at each instant every blocked step looks again at what it waits for,
//! until nothing moves; then time jumps to the next instant anything can change. Everything a
//! real node learns from a socket or a timer comes from this table instead, so a timing rule
//! is checked to the millisecond with no clock and no flakiness.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use seqtun_wire::Reply;
use seqtun_wire::params::NodeParams;
use seqtun_wire::rules::Rules;
use seqtun_wire::seq_gate::SeqGate;
use serde_json::Value;

use crate::batch::Batch;
use crate::origin::Origin;

/// One TCP session, live or already removed from the table.
pub struct Session {
    pub buf: Vec<u8>,
    /// The upstream finished (or the session was closed).
    pub done: bool,
    pub closed: bool,
    pub gate: SeqGate,
    /// Bumped by every poll preemption (and by close), so a parked poll sees it.
    pub preempts: u64,
    pub last_active: Instant,
    /// What the upstream received, and when.
    pub uplink: Vec<(Instant, Vec<u8>)>,
    origin: Origin,
}

impl Session {
    pub fn is_ready(&self) -> bool {
        self.done || !self.buf.is_empty()
    }
}

/// The simulated node.
pub struct SimNode {
    pub params: NodeParams,
    pub rules: Rules,
    origins: HashMap<String, Origin>,
    pub(crate) sessions: BTreeMap<String, Session>,
    live: BTreeSet<String>,
    next_sid: u64,
    batches: Vec<Batch>,
    /// Upstream bytes on their way: `(when, sid, bytes)`; `None` is the upstream's close.
    arriving: Vec<(Instant, String, Option<Vec<u8>>)>,
    next_reap: Instant,
}

impl SimNode {
    pub fn new(params: NodeParams, rules: Rules, now: Instant) -> Self {
        Self {
            next_reap: now + params.reap_interval,
            params,
            rules,
            origins: HashMap::new(),
            sessions: BTreeMap::new(),
            live: BTreeSet::new(),
            next_sid: 0,
            batches: Vec::new(),
            arriving: Vec::new(),
        }
    }

    /// Connects to `host` (any port) reach `origin`; other hosts refuse.
    pub fn origin(&mut self, host: &str, origin: Origin) {
        self.origins.insert(host.to_string(), origin);
    }

    /// A batch arrives at `now`; its reply comes out of [`SimNode::poll`] as `id`.
    pub fn receive(&mut self, id: u64, ops: Vec<Value>, now: Instant) {
        let batch = Batch::start(self, id, ops, now);
        self.batches.push(batch);
    }

    /// Moves everything that can move at `now`; returns the batches answered.
    pub fn poll(&mut self, now: Instant) -> Vec<(u64, Vec<Reply>)> {
        self.reap(now);
        let mut batches = std::mem::take(&mut self.batches);
        for _ in 0..10_000 {
            // An upstream may answer at the instant it was written to.
            let mut moved = self.deliver(now);
            for b in &mut batches {
                moved |= b.advance(self, now);
            }
            if !moved {
                let (done, open): (Vec<_>, Vec<_>) = batches.into_iter().partition(Batch::done);
                self.batches = open;
                return done.into_iter().map(|b| b.answer()).collect();
            }
        }
        panic!("the simulated node livelocked at one instant");
    }

    /// The next instant anything at the node can change by itself.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let arrivals = self.arriving.iter().map(|(at, _, _)| *at);
        let batches = self.batches.iter().filter_map(Batch::next_wakeup);
        let reaper = (!self.live.is_empty()).then_some(self.next_reap);
        arrivals.chain(batches).chain(reaper).min()
    }

    /// What the upstream of `sid` received so far, with when.
    pub fn uplink(&self, sid: &str) -> &[(Instant, Vec<u8>)] {
        self.sessions.get(sid).map_or(&[], |s| &s.uplink)
    }

    pub fn is_live(&self, sid: &str) -> bool {
        self.live.contains(sid)
    }

    pub fn session(&self, sid: &str) -> &Session {
        &self.sessions[sid]
    }

    fn deliver(&mut self, now: Instant) -> bool {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.arriving)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.arriving = later;
        let any = !due.is_empty();
        for (_, sid, chunk) in due {
            let Some(s) = self.sessions.get_mut(&sid).filter(|s| !s.closed) else {
                continue;
            };
            match chunk {
                Some(bytes) => s.buf.extend_from_slice(&bytes),
                None => s.done = true,
            }
        }
        any
    }

    /// The reaper (§5.1): every interval, sessions untouched for longer than the idle time go.
    fn reap(&mut self, now: Instant) {
        while now >= self.next_reap {
            let idle: Vec<String> = self
                .live
                .iter()
                .filter(|sid| {
                    let s = &self.sessions[*sid];
                    now.saturating_duration_since(s.last_active) > self.params.tcp_idle_timeout
                })
                .cloned()
                .collect();
            for sid in idle {
                self.close(&sid);
            }
            self.next_reap += self.params.reap_interval;
        }
    }

    // The I/O a batch asks for.

    pub(crate) fn lookup(&self, sid: &str) -> bool {
        self.live.contains(sid)
    }

    pub(crate) fn connect(&mut self, host: &str, now: Instant) -> Result<String, String> {
        let origin = self
            .origins
            .get(host)
            .cloned()
            .ok_or("connection refused")?;
        let sid = format!("s{}", self.next_sid);
        self.next_sid += 1;
        for (after, bytes) in &origin.pushes {
            self.arriving
                .push((now + *after, sid.clone(), Some(bytes.clone())));
        }
        if let Some(after) = origin.eof_after {
            self.arriving.push((now + after, sid.clone(), None));
        }
        let gate = SeqGate::new(self.params.seq_wait_timeout, self.params.seq_max_waiting);
        let session = Session {
            buf: Vec::new(),
            done: false,
            closed: false,
            gate,
            preempts: 0,
            last_active: now,
            uplink: Vec::new(),
            origin,
        };
        self.sessions.insert(sid.clone(), session);
        self.live.insert(sid.clone());
        Ok(sid)
    }

    /// The upstream of `sid` receives `bytes` at `now` and schedules its answer.
    pub(crate) fn write(&mut self, sid: &str, bytes: &[u8], now: Instant) {
        let s = self.sessions.get_mut(sid).expect("a held session");
        if s.closed || bytes.is_empty() {
            return;
        }
        s.uplink.push((now, bytes.to_vec()));
        for (after, answer) in (s.origin.answer)(bytes) {
            self.arriving
                .push((now + after, sid.to_string(), Some(answer)));
        }
    }

    pub(crate) fn touch(&mut self, sid: &str, now: Instant) {
        if let Some(s) = self.sessions.get_mut(sid) {
            s.last_active = now;
        }
    }

    /// `close`: out of the table, reader stopped, waiters woken.
    pub(crate) fn close(&mut self, sid: &str) {
        self.live.remove(sid);
        if let Some(s) = self.sessions.get_mut(sid) {
            s.closed = true;
            s.done = true;
            s.preempts += 1;
        }
    }

    /// Takes up to `allowance` bytes; eof only when the buffer empties after the upstream
    /// finished, and then the session leaves the table (§4.4).
    pub(crate) fn drain(&mut self, sid: &str, allowance: usize) -> (Vec<u8>, bool) {
        let s = self.sessions.get_mut(sid).expect("a held session");
        let plan = seqtun_wire::drain::plan_drain(s.buf.len(), s.done, allowance);
        let bytes: Vec<u8> = s.buf.drain(..plan.take).collect();
        if plan.eof {
            self.close(sid);
        }
        (bytes, plan.eof)
    }

    pub(crate) fn ready(&self, sids: &[String]) -> bool {
        sids.iter().any(|sid| self.sessions[sid].is_ready())
    }

    pub(crate) fn buffered(&self, sids: &[String]) -> usize {
        sids.iter().map(|sid| self.sessions[sid].buf.len()).sum()
    }

    pub(crate) fn gate(&mut self, sid: &str) -> &mut SeqGate {
        &mut self.sessions.get_mut(sid).expect("a held session").gate
    }

    pub(crate) fn session_mut(&mut self, sid: &str) -> &mut Session {
        self.sessions.get_mut(sid).expect("a held session")
    }
}
