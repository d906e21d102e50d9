//! The client half of the pair: apps with bytes to send, each session's wire [`Pipeline`], and
//! the client's reply matching ([`replies::split`]) and mode choice ([`session_mode`]).
//!
//! Batching is deliberately simple (every op due at one instant goes in one batch): what the
//! harness tests is the protocol between pipeline and node, not the batcher's coalescing.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use seqtun_wire::client::negotiate::session_mode;
use seqtun_wire::client::params::MAX_DATA_OP_BYTES;
use seqtun_wire::client::replies::{self, Expect, OpResult};
use seqtun_wire::client::{ClientFaults, ClientParams, End, Event, OpToken, Pipeline, PollDue};
use seqtun_wire::{BatchOp, BatchResponse};

/// One app connection and its session.
pub struct App {
    host: String,
    port: u16,
    pub sid: Option<String>,
    pub pipeline: Option<Pipeline>,
    /// Bytes the app wrote that are not sent yet.
    pub outbox: Vec<u8>,
    /// Bytes written to the app, in order, and when each write happened.
    pub inbox: Vec<u8>,
    pub writes: Vec<(Instant, usize)>,
    /// Why the session ended (a failed open included).
    pub end: Option<End>,
    closed: bool,
}

enum Sent {
    Connect(String),
    Data(String, OpToken),
    Close,
}

pub struct SimClient {
    pub params: ClientParams,
    pub faults: ClientFaults,
    pub apps: BTreeMap<String, App>,
    opening: Vec<String>,
    sent: HashMap<u64, (Vec<Sent>, Vec<Expect>)>,
    next_batch: u64,
    pipelining_disabled: bool,
}

impl SimClient {
    pub fn new(params: ClientParams) -> Self {
        Self {
            params,
            faults: ClientFaults::default(),
            apps: BTreeMap::new(),
            opening: Vec::new(),
            sent: HashMap::new(),
            next_batch: 0,
            pipelining_disabled: false,
        }
    }

    /// An app connects to `host:port` through the tunnel.
    pub fn open(&mut self, name: &str, host: &str, port: u16) {
        let app = App {
            host: host.into(),
            port,
            sid: None,
            pipeline: None,
            outbox: Vec::new(),
            inbox: Vec::new(),
            writes: Vec::new(),
            end: None,
            closed: false,
        };
        self.apps.insert(name.into(), app);
        self.opening.push(name.into());
    }

    /// The app writes `bytes`.
    pub fn write(&mut self, name: &str, bytes: &[u8]) {
        self.app_mut(name).outbox.extend_from_slice(bytes);
    }

    pub fn app(&self, name: &str) -> &App {
        &self.apps[name]
    }

    fn app_mut(&mut self, name: &str) -> &mut App {
        self.apps.get_mut(name).expect("an opened app")
    }

    /// Every op due at `now`, as one batch.
    pub fn flush(&mut self, now: Instant) -> Option<(u64, Vec<BatchOp>)> {
        let mut ops = Vec::new();
        for name in std::mem::take(&mut self.opening) {
            let app = &self.apps[&name];
            ops.push((
                Sent::Connect(name.clone()),
                BatchOp::connect(&app.host, app.port),
            ));
        }
        for (name, app) in &mut self.apps {
            app.due_ops(name, now, &mut ops);
        }
        if ops.is_empty() {
            return None;
        }
        let id = self.next_batch;
        self.next_batch += 1;
        let expects = ops.iter().map(|(_, op)| Expect::of(op)).collect();
        let (sent, ops): (Vec<_>, Vec<_>) = ops.into_iter().unzip();
        self.sent.insert(id, (sent, expects));
        Some((id, ops))
    }

    /// The reply to batch `id` came back.
    pub fn on_reply(&mut self, id: u64, resp: BatchResponse, now: Instant) {
        let Some((sent, expects)) = self.sent.remove(&id) else {
            return;
        };
        let split = replies::split(resp, &expects, &self.faults);
        self.deliver(sent, split.results, now);
    }

    /// Batch `id` failed on the way (its HTTP timeout passed).
    pub fn on_failed(&mut self, id: u64, now: Instant) {
        let Some((sent, _)) = self.sent.remove(&id) else {
            return;
        };
        let results = replies::fail_all(sent.len(), "timeout");
        self.deliver(sent, results, now);
    }

    fn deliver(&mut self, sent: Vec<Sent>, results: Vec<OpResult>, now: Instant) {
        for (sent, result) in sent.into_iter().zip(results) {
            match sent {
                Sent::Connect(name) => self.opened(&name, result, now),
                Sent::Data(name, token) => {
                    let app = self.apps.get_mut(&name).expect("an opened app");
                    let Some(p) = app.pipeline.as_mut() else {
                        continue;
                    };
                    for Event::Write(bytes) in p.on_reply(token, result, now) {
                        app.writes.push((now, bytes.len()));
                        app.inbox.extend(bytes);
                    }
                    self.pipelining_disabled |= p.take_downgrade();
                    app.end = p.end().cloned();
                }
                Sent::Close => {}
            }
        }
    }

    fn opened(&mut self, name: &str, result: OpResult, now: Instant) {
        let (params, faults, disabled) = (&self.params, &self.faults, self.pipelining_disabled);
        let app = self.apps.get_mut(name).expect("an opened app");
        match result {
            Ok(reply) if reply.e.is_none() && reply.sid.is_some() => {
                let mode = session_mode(&reply, params, disabled, faults);
                app.sid = reply.sid.clone();
                app.pipeline = Some(Pipeline::new(mode, params, faults, now));
            }
            Ok(reply) => app.end = Some(End::NodeError(reply.e.unwrap_or_default())),
            Err(e) => app.end = Some(End::Failed(e.to_string())),
        }
    }

    /// The next instant a session has something to do by itself.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        self.apps
            .values()
            .filter_map(|a| a.pipeline.as_ref().filter(|_| a.end.is_none()))
            .flat_map(|p| {
                let poll = match p.poll_due() {
                    PollDue::Now => Some(now),
                    PollDue::At(t) => Some(t),
                    PollDue::Never => None,
                };
                poll.into_iter().chain(p.deadline())
            })
            .min()
    }
}

impl App {
    /// Ops this session sends at `now`: app bytes while depth allows, a due poll, and a close
    /// once the session ended.
    fn due_ops(&mut self, name: &str, now: Instant, ops: &mut Vec<(Sent, BatchOp)>) {
        let (Some(p), Some(sid)) = (self.pipeline.as_mut(), self.sid.as_deref()) else {
            return;
        };
        p.on_tick(now);
        while p.end().is_none() && !self.outbox.is_empty() && p.can_send_bytes() {
            let n = self.outbox.len().min(MAX_DATA_OP_BYTES);
            let chunk: Vec<u8> = self.outbox.drain(..n).collect();
            let (token, op) = p.send(sid, &chunk, now);
            ops.push((Sent::Data(name.into(), token), op));
        }
        let due = match p.poll_due() {
            PollDue::Now => true,
            PollDue::At(t) => t <= now,
            PollDue::Never => false,
        };
        if due && p.end().is_none() {
            let (token, op) = p.send(sid, b"", now);
            ops.push((Sent::Data(name.into(), token), op));
        }
        self.end = p.end().cloned();
        if self.end.is_some() && !self.closed {
            self.closed = true;
            ops.push((Sent::Close, BatchOp::close(sid)));
        }
    }
}
