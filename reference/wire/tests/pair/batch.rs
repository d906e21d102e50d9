//! One batch at the simulated node: phase 1 at once (connects are instant here), then phase 2
//! as the planner names it, with each seq'd op's machine blocked on what it waits for.

use std::collections::HashMap;
use std::time::Instant;

use seqtun_wire::Reply;
use seqtun_wire::drain::{Settle, SettleStep};
use seqtun_wire::node::{BatchPlan, BatchWait, Drain, Ledger, Start, Step, TcpDrain, plan};
use seqtun_wire::ops::{OpenKind, Transport, parse_batch};
use seqtun_wire::reply::OpError;
use seqtun_wire::rules::Spent;
use serde_json::Value;

use crate::job::Job;
use crate::node::SimNode;

/// What phase 2 drains: the drains in budget order and the sessions the batch holds.
struct Drains {
    list: Vec<Drain>,
    held: HashMap<usize, String>,
}

/// What the batch's waits share (the node's `BatchCtx`).
pub struct Shared {
    pub ledger: Ledger,
    pub wake_on_ready: bool,
    /// Some wait of the batch saw a session ready: every wait of the batch is over.
    pub woken: bool,
    pub batch_set: Vec<String>,
    /// The sessions of the phase-2 drains, which the batch settles on.
    mine: Vec<String>,
}

enum Wait {
    Waiting { until: Instant, wait: BatchWait },
    Settling { settle: Settle, next: Instant },
    Drained,
}

pub struct Batch {
    id: u64,
    plan: Option<BatchPlan>,
    answer: Option<Vec<Reply>>,
    wait: Wait,
    drains: Drains,
    jobs: Vec<Job>,
    closes: Vec<(usize, String)>,
    shared: Option<Shared>,
}

impl Batch {
    pub fn start(node: &mut SimNode, id: u64, ops: Vec<Value>, now: Instant) -> Self {
        let mut b = Self {
            id,
            plan: None,
            answer: None,
            wait: Wait::Drained,
            drains: Drains {
                list: Vec::new(),
                held: HashMap::new(),
            },
            jobs: Vec::new(),
            closes: Vec::new(),
            shared: None,
        };
        match plan(parse_batch(ops), &node.params, &node.rules) {
            Start::Answered(r) => b.answer = Some(r),
            Start::Plan(mut p) => {
                b.phase1(node, &mut p, now);
                b.phase2(&mut p, now);
                b.plan = Some(*p);
            }
        }
        b
    }

    fn phase1(&mut self, node: &mut SimNode, p: &mut BatchPlan, now: Instant) {
        let mut opened = Vec::new();
        while let Some(step) = p.next_step() {
            match step {
                Step::Open { slot, open } => {
                    let result = match open.kind {
                        OpenKind::UdpOpen => Err("the harness has no UDP".to_string()),
                        _ => node.connect(&open.target.host, now),
                    };
                    if let Ok(sid) = &result {
                        node.write(sid, &open.first, now);
                    }
                    opened.push((slot, result));
                }
                Step::Write {
                    slot,
                    transport,
                    sid,
                    touch,
                    bytes,
                } => {
                    assert_eq!(transport, Transport::Tcp, "the harness has no UDP");
                    let live = node.lookup(&sid);
                    if live {
                        if touch {
                            node.touch(&sid, now);
                        }
                        node.write(&sid, &bytes, now);
                        self.drains.held.insert(slot, sid);
                    }
                    p.found(slot, live);
                }
                Step::FindJob { slot, sid } => {
                    let live = node.lookup(&sid);
                    if live {
                        self.drains.held.insert(slot, sid);
                    }
                    p.found(slot, live);
                }
                Step::Close { sid, .. } => node.close(&sid),
            }
        }
        for (slot, result) in opened {
            if let Ok(sid) = &result {
                self.drains.held.insert(slot, sid.clone());
            }
            p.opened(slot, result.map_err(OpError::ConnectFailed));
        }
    }

    fn phase2(&mut self, p: &mut BatchPlan, now: Instant) {
        let p2 = p.phase2();
        let mine: Vec<String> = p2
            .drains
            .iter()
            .map(|d| self.drains.held[&d.slot].clone())
            .collect();
        let mut batch_set = mine.clone();
        for (slot, _) in &p2.jobs {
            batch_set.push(self.drains.held[slot].clone());
        }
        batch_set.sort();
        batch_set.dedup();
        self.jobs = p2
            .jobs
            .into_iter()
            .map(|(slot, machine)| Job::new(slot, self.drains.held[&slot].clone(), machine))
            .collect();
        self.wait = match p2.wait {
            Some(wait) => Wait::Waiting {
                until: now + wait.within,
                wait,
            },
            None => Wait::Drained,
        };
        self.drains.list = p2.drains;
        self.closes = p2.closes;
        self.shared = Some(Shared {
            ledger: p2.ledger,
            wake_on_ready: p2.wake_on_ready,
            woken: false,
            batch_set,
            mine,
        });
    }

    pub fn done(&self) -> bool {
        self.answer.is_some()
    }

    pub fn answer(self) -> (u64, Vec<Reply>) {
        (self.id, self.answer.unwrap_or_default())
    }

    /// Moves what can move at `now`; true if anything did.
    pub fn advance(&mut self, node: &mut SimNode, now: Instant) -> bool {
        let (Some(p), Some(shared)) = (self.plan.as_mut(), self.shared.as_mut()) else {
            return false;
        };
        if self.answer.is_some() {
            return false;
        }
        let mut moved = false;
        for job in &mut self.jobs {
            moved |= job.advance(node, shared, now);
            if let Some(reply) = job.reply.take() {
                p.job_done(job.slot, reply);
            }
        }
        moved |= advance_wait(&mut self.wait, &self.drains, p, (node, shared), now);
        let jobs_done = self.jobs.iter().all(Job::is_done);
        if matches!(self.wait, Wait::Drained) && jobs_done {
            for (_, sid) in std::mem::take(&mut self.closes) {
                node.close(&sid);
            }
            self.answer = self.plan.take().map(BatchPlan::finish);
            moved = true;
        }
        moved
    }

    pub fn next_wakeup(&self) -> Option<Instant> {
        let wait = match &self.wait {
            Wait::Waiting { until, .. } => Some(*until),
            Wait::Settling { next, .. } => Some(*next),
            Wait::Drained => None,
        };
        wait.into_iter()
            .chain(self.jobs.iter().filter_map(Job::next_wakeup))
            .min()
    }
}

/// The batch wait, settle and phase-2 drains (§5.3).
fn advance_wait(
    wait: &mut Wait,
    drains: &Drains,
    p: &mut BatchPlan,
    (node, shared): (&mut SimNode, &mut Shared),
    now: Instant,
) -> bool {
    let params = node.params.clone();
    match wait {
        Wait::Drained => return false,
        Wait::Waiting { until, wait: w } => {
            let ready = shared.wake_on_ready && (shared.woken || node.ready(&shared.batch_set));
            if !ready && now < *until {
                return false;
            }
            shared.woken |= ready;
            if !w.settles(ready) {
                drains.drain_all(p, node, shared, now);
                *wait = Wait::Drained;
                return true;
            }
            let total = node.buffered(&shared.mine);
            let settle = Settle::start(now, total, params.settle_step, params.settle_max);
            *wait = match settle.first_check(now) {
                SettleStep::WaitUntil(next) => Wait::Settling { settle, next },
                SettleStep::Done => {
                    drains.drain_all(p, node, shared, now);
                    Wait::Drained
                }
            };
        }
        Wait::Settling { settle, next } => {
            if now < *next {
                return false;
            }
            match settle.observe(now, node.buffered(&shared.mine)) {
                SettleStep::WaitUntil(at) => *next = at,
                SettleStep::Done => {
                    drains.drain_all(p, node, shared, now);
                    *wait = Wait::Drained;
                }
            }
        }
    }
    true
}

impl Drains {
    fn drain_all(&self, p: &mut BatchPlan, node: &mut SimNode, shared: &mut Shared, now: Instant) {
        for d in &self.list {
            let sid = &self.held[&d.slot];
            let (bytes, eof);
            let outcome = match drain(node, &mut shared.ledger, sid, (d.touch, d.spent), now) {
                None => TcpDrain::Omitted,
                Some(None) => TcpDrain::Closed,
                Some(Some(took)) => {
                    (bytes, eof) = took;
                    TcpDrain::Bytes { bytes: &bytes, eof }
                }
            };
            p.tcp_drained(d.slot, outcome);
        }
    }
}

/// What a TCP drain took: `None` no entry, `Some(None)` the session was closed.
type Took = Option<Option<(Vec<u8>, bool)>>;

/// The node's `drain_tcp`, in the same order: budget, closed, touch, take.
pub fn drain(
    node: &mut SimNode,
    ledger: &mut Ledger,
    sid: &str,
    d: (bool, Spent),
    now: Instant,
) -> Took {
    let (touch, spent) = d;
    let allowance = ledger.grant(spent)?;
    if node.session(sid).closed {
        ledger.settle(allowance, 0);
        return Some(None);
    }
    if touch {
        node.touch(sid, now);
    }
    let (bytes, eof) = node.drain(sid, allowance);
    ledger.settle(allowance, bytes.len());
    Some(Some((bytes, eof)))
}
