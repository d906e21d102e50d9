//! A node alone on simulated time, for the node's timing rules: send batches, jump time, read
//! replies as JSON values, as the node's socket tests do with a real node.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use seqtun_wire::params::NodeParams;
use seqtun_wire::rules::{NodeFaults, Rules};
use serde_json::{Value, json};

use crate::node::SimNode;

pub struct NodeOnly {
    pub t0: Instant,
    pub now: Instant,
    pub node: SimNode,
    next_id: u64,
    sent: HashMap<u64, Instant>,
    answers: HashMap<u64, (Instant, Vec<Value>)>,
}

impl NodeOnly {
    /// A node with default limits, adjusted by `tweak`.
    pub fn new(tweak: impl FnOnce(&mut NodeParams, &mut NodeFaults)) -> Self {
        let (mut params, mut faults) = (NodeParams::default(), NodeFaults::default());
        tweak(&mut params, &mut faults);
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            node: SimNode::new(params, Rules::new(false, &faults), t0),
            next_id: 0,
            sent: HashMap::new(),
            answers: HashMap::new(),
        }
    }

    /// Sends a batch now; its answer is collected as time moves.
    pub fn send(&mut self, ops: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let ops = ops.as_array().expect("an ops array").clone();
        self.node.receive(id, ops, self.now);
        self.sent.insert(id, self.now);
        self.collect();
        id
    }

    fn collect(&mut self) {
        for (id, r) in self.node.poll(self.now) {
            let r = r.iter().map(|x| serde_json::to_value(x).unwrap()).collect();
            self.answers.insert(id, (self.now, r));
        }
    }

    /// Moves time to the next instant anything happens; false if nothing will.
    fn step(&mut self) -> bool {
        let next = self.node.next_wakeup().filter(|t| *t > self.now);
        let Some(next) = next else {
            return false;
        };
        self.now = next;
        self.collect();
        true
    }

    /// Runs until batch `id` is answered; returns how long it took and its `r`.
    pub fn wait(&mut self, id: u64) -> (Duration, Vec<Value>) {
        while !self.answers.contains_key(&id) {
            assert!(self.step(), "batch {id} will never be answered");
        }
        let (at, r) = self.answers.remove(&id).expect("answered");
        (at - self.sent[&id], r)
    }

    /// Sends a batch and waits for it.
    pub fn batch(&mut self, ops: Value) -> (Duration, Vec<Value>) {
        let id = self.send(ops);
        self.wait(id)
    }

    /// One op, one reply.
    pub fn op(&mut self, op: Value) -> Value {
        self.batch(json!([op])).1.remove(0)
    }

    /// Opens a session to `host` and returns its sid.
    pub fn connect(&mut self, host: &str) -> String {
        let r = self.op(json!({"op":"connect","host":host,"port":80}));
        r["sid"].as_str().expect("connected").to_string()
    }

    /// Lets `d` of simulated time pass.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.node.next_wakeup().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = end;
        self.collect();
    }

    pub fn is_answered(&self, id: u64) -> bool {
        self.answers.contains_key(&id)
    }
}

/// The decoded `d` of a reply (empty when absent).
pub fn d(reply: &Value) -> Vec<u8> {
    reply["d"]
        .as_str()
        .map(|s| seqtun_wire::b64::decode(s).unwrap())
        .unwrap_or_default()
}

pub fn b64(bytes: &[u8]) -> String {
    seqtun_wire::b64::encode(bytes)
}
