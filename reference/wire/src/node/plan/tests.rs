//! The §5.3 / §7.6 rules of the planner, driven by a scripted world (no sockets, no clock).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::node::TcpDrain;
use crate::ops::parse_batch;
use crate::rules::{NodeFaults, Spent};

/// What the executor would find: these sessions are live, every open succeeds as `new<slot>`.
struct World {
    live: HashSet<String>,
    steps: Vec<Step>,
}

fn world(live: &[&str]) -> World {
    World {
        live: live.iter().map(|s| s.to_string()).collect(),
        steps: Vec::new(),
    }
}

impl World {
    /// Runs phase 1 and the opens; returns the plan ready for phase 2.
    fn phase1(&mut self, ops: Value, rules: &Rules) -> Box<BatchPlan> {
        let ops = parse_batch(ops.as_array().unwrap().clone());
        let Start::Plan(mut p) = plan(ops, &NodeParams::default(), rules) else {
            panic!("answered without a plan")
        };
        let mut opens = Vec::new();
        while let Some(step) = p.next_step() {
            match &step {
                Step::Open { slot, .. } => opens.push(*slot),
                Step::Write { slot, sid, .. } | Step::FindJob { slot, sid } => {
                    let live = self.live.contains(sid);
                    p.found(*slot, live);
                }
                Step::Close { sid, .. } => {
                    self.live.remove(sid);
                }
            }
            self.steps.push(step);
        }
        for slot in opens {
            p.opened(slot, Ok(format!("new{slot}")));
        }
        p
    }

    /// Phase 2 with every TCP drain returning `b"x"`, UDP drains nothing, jobs a poll reply.
    fn run(&mut self, ops: Value, rules: &Rules) -> (Vec<Value>, Phase2Summary) {
        let mut p = self.phase1(ops, rules);
        let p2 = p.phase2();
        let summary = Phase2Summary {
            wait: p2.wait,
            drains: p2.drains.iter().map(|d| d.slot).collect(),
            jobs: p2.jobs.iter().map(|(s, _)| *s).collect(),
            closes: p2.closes.iter().map(|(s, _)| *s).collect(),
        };
        for d in &p2.drains {
            match d.transport {
                Transport::Tcp => p.tcp_drained(
                    d.slot,
                    TcpDrain::Bytes {
                        bytes: b"x",
                        eof: false,
                    },
                ),
                Transport::Udp => p.udp_drained::<&[u8]>(d.slot, &[], false),
            }
        }
        for (slot, job) in p2.jobs {
            let reply = Reply::drained(job.sid(), b"", false).with_seq(Some(job.seq()));
            p.job_done(slot, reply);
        }
        let r = p.finish();
        (
            r.iter().map(|x| serde_json::to_value(x).unwrap()).collect(),
            summary,
        )
    }
}

#[derive(Debug)]
struct Phase2Summary {
    wait: Option<BatchWait>,
    drains: Vec<usize>,
    jobs: Vec<usize>,
    closes: Vec<usize>,
}

fn faults(f: impl FnOnce(&mut NodeFaults)) -> Rules {
    let mut faults = NodeFaults::default();
    f(&mut faults);
    Rules::new(false, &faults)
}

#[test]
fn too_many_ops_answers_every_op_and_runs_none() {
    let params = NodeParams {
        max_batch_ops: 2,
        ..NodeParams::default()
    };
    let ops = parse_batch(vec![json!({"op":"close","sid":"a"}); 3]);
    let Start::Answered(r) = plan(ops, &params, &Rules::seqtun()) else {
        panic!()
    };
    assert_eq!(r.len(), 3);
    assert!(
        r.iter()
            .all(|x| x.e.as_deref().unwrap().contains("raise --max-batch-ops"))
    );
    let at_limit = parse_batch(vec![json!({"op":"close","sid":"a"}); 2]);
    assert!(matches!(
        plan(at_limit, &params, &Rules::seqtun()),
        Start::Plan(_)
    ));
}

#[test]
fn a_bad_op_fails_alone_or_the_whole_batch_on_deployed_nodes() {
    let ops = json!([{"op":"connect","host":"h","port":70000},{"op":"close","sid":"s"}]);
    let (r, _) = world(&[]).run(ops.clone(), &Rules::seqtun());
    assert!(r[0]["e"].as_str().unwrap().starts_with("bad op: "));
    assert_eq!(r[1], json!({"sid":"s","eof":true}));
    let deployed = faults(|f| f.whole_batch_type_errors = true);
    let parsed = parse_batch(ops.as_array().unwrap().clone());
    let Start::Answered(r) = plan(parsed, &NodeParams::default(), &deployed) else {
        panic!()
    };
    assert_eq!(r.len(), 1);
    assert!(
        r[0].e.as_deref().unwrap().starts_with("bad json: "),
        "{r:?}"
    );
}

#[test]
fn phase1_steps_follow_op_order_and_opens_do_not_block() {
    let mut w = world(&["a"]);
    let ops = json!([
        {"op":"connect","host":"h","port":1},
        {"op":"data","sid":"a","d":"eA=="},
        {"op":"udp_open","host":"h","port":2},
        {"op":"close","sid":"b"},
    ]);
    w.phase1(ops, &Rules::seqtun());
    let kinds: Vec<&str> = w
        .steps
        .iter()
        .map(|s| match s {
            Step::Open { .. } => "open",
            Step::Write { .. } => "write",
            Step::FindJob { .. } => "job",
            Step::Close { .. } => "close",
        })
        .collect();
    assert_eq!(kinds, ["open", "write", "open", "close"]);
    assert!(matches!(&w.steps[1], Step::Write { bytes, touch: true, .. } if bytes == b"x"));
}

#[test]
fn activity_picks_the_wait() {
    let params = NodeParams::default();
    let (_, poll) = world(&["a"]).run(json!([{"op":"data","sid":"a"}]), &Rules::seqtun());
    let wait = poll.wait.unwrap();
    assert_eq!(wait.within, params.longpoll_deadline);
    assert!(!wait.settles(true), "a pure poll never settles");
    let (_, write) = world(&["a"]).run(
        json!([{"op":"data","sid":"a"},{"op":"connect","host":"h","port":1}]),
        &Rules::seqtun(),
    );
    let wait = write.wait.unwrap();
    assert_eq!(wait.within, params.active_drain_deadline);
    assert!(wait.settles(true) && !wait.settles(false));
    let (_, none) = world(&[]).run(json!([{"op":"close","sid":"a"}]), &Rules::seqtun());
    assert_eq!(none.wait, None, "nothing to drain: no wait");
}

#[test]
fn unknown_sessions_and_bad_payloads_register_no_drain() {
    let (r, s) = world(&["a"]).run(
        json!([
            {"op":"data","sid":"gone"},
            {"op":"data","sid":"a","d":"@@"},
            {"op":"udp_data","sid":"gone"},
            {"op":"data","sid":"a"},
        ]),
        &Rules::seqtun(),
    );
    assert_eq!(r[0], json!({"sid":"gone","eof":true}));
    assert!(r[1]["e"].as_str().unwrap().starts_with("bad base64: "));
    assert_eq!(r[2], json!({"sid":"gone","eof":true}));
    assert_eq!(r[3], json!({"sid":"a","d":"eA==","eof":false}));
    assert_eq!(s.drains, [3]);
}

#[test]
fn a_close_waits_for_an_earlier_drain_or_job_of_its_session() {
    // §7.6: [data(seq), close] defers; [close, data] does not; an un-seq'd op on an unknown
    // session registers nothing, so its close runs in place.
    let cases = [
        (
            json!([{"op":"data","sid":"a","seq":0},{"op":"close","sid":"a"}]),
            vec![1],
        ),
        (
            json!([{"op":"data","sid":"a"},{"op":"close","sid":"a"}]),
            vec![1],
        ),
        (
            json!([{"op":"close","sid":"a"},{"op":"data","sid":"a","seq":0}]),
            vec![],
        ),
        (
            json!([{"op":"data","sid":"x"},{"op":"close","sid":"x"}]),
            vec![],
        ),
        (
            json!([{"op":"data","sid":"x","seq":0},{"op":"close","sid":"x"}]),
            vec![1],
        ),
        (
            json!([{"op":"data","sid":"b"},{"op":"close","sid":"a"}]),
            vec![],
        ),
    ];
    for (ops, deferred) in cases {
        let (r, s) = world(&["a", "b"]).run(ops.clone(), &Rules::seqtun());
        assert_eq!(s.closes, deferred, "{ops}");
        assert_eq!(r.len(), 2, "{ops}");
    }
    let (_, s) = world(&["a"]).run(
        json!([{"op":"data","sid":"a","seq":0},{"op":"close","sid":"a"}]),
        &faults(|f| f.close_before_data = true),
    );
    assert!(s.closes.is_empty(), "close_before_data runs it in place");
}

#[test]
fn close_then_data_finds_the_session_gone() {
    let (r, s) = world(&["a"]).run(
        json!([{"op":"close","sid":"a"},{"op":"data","sid":"a","seq":0,"d":"eA=="}]),
        &Rules::seqtun(),
    );
    assert_eq!(r[0], json!({"sid":"a","eof":true}));
    assert_eq!(r[1], json!({"sid":"a","eof":true,"seq":0}));
    assert!(s.jobs.is_empty());
}

#[test]
fn caps_on_connect_and_batched_connect_data_only() {
    let ops = json!([
        {"op":"connect","host":"h","port":1},
        {"op":"connect_data","host":"h","port":1,"d":""},
        {"op":"udp_open","host":"h","port":1},
    ]);
    let (r, _) = world(&[]).run(ops.clone(), &Rules::seqtun());
    assert_eq!(r[0], json!({"sid":"new0","eof":false,"caps":1}));
    assert_eq!(r[1], json!({"sid":"new1","d":"eA==","eof":false,"caps":1}));
    assert_eq!(r[2], json!({"sid":"new2","eof":false}));
    let (r, _) = world(&[]).run(
        ops.clone(),
        &faults(|f| f.no_caps_on_batched_connect_data = true),
    );
    assert_eq!(r[0]["caps"], 1);
    assert!(r[1].get("caps").is_none());
    let (r, _) = world(&[]).run(ops, &Rules::new(true, &NodeFaults::default()));
    assert!(r.iter().all(|x| x.get("caps").is_none()), "legacy: {r:?}");
}

#[test]
fn drains_reserve_in_op_order_opens_included() {
    let (_, s) = world(&["a"]).run(
        json!([
            {"op":"connect_data","host":"h","port":1,"d":"eA=="},
            {"op":"data","sid":"a"},
        ]),
        &Rules::seqtun(),
    );
    assert_eq!(s.drains, [0, 1]);
}

#[test]
fn legacy_nodes_echo_no_seq_even_on_errors() {
    let legacy = Rules::new(true, &NodeFaults::default());
    let (r, s) = world(&["a"]).run(
        json!([
            {"op":"data","sid":"a","seq":3},
            {"op":"data","seq":4},
            {"op":"data","sid":"a","seq":-1},
        ]),
        &legacy,
    );
    assert!(s.jobs.is_empty(), "seq ignored: the legacy path");
    assert!(r.iter().all(|x| x.get("seq").is_none()), "{r:?}");
}

#[test]
fn every_slot_is_answered_and_budget_gaps_leave_entries_out() {
    let mut w = world(&["a", "b"]);
    let mut p = w.phase1(
        json!([{"op":"data","sid":"a"},{"op":"data","sid":"b"},{"op":"frob"}]),
        &Rules::seqtun(),
    );
    let p2 = p.phase2();
    p.tcp_drained(p2.drains[0].slot, TcpDrain::Omitted);
    let r = p.finish();
    assert_eq!(r.len(), 2, "one omitted, one never answered: {r:?}");
    assert_eq!(
        r[0].e.as_deref(),
        Some("internal error: op produced no reply")
    );
    assert!(r[1].is_unsupported());
}

#[test]
fn the_wait_sits_out_its_deadline_only_for_the_deaf_mutant_pure_polls() {
    let deaf = faults(|f| f.long_poll_ignores_readiness = true);
    let mut p = world(&["a"]).phase1(json!([{"op":"data","sid":"a"}]), &deaf);
    assert!(!p.phase2().wake_on_ready);
    let mut p = world(&["a"]).phase1(json!([{"op":"data","sid":"a","d":"eA=="}]), &deaf);
    assert!(p.phase2().wake_on_ready, "active batches are not deaf");
    let mut p = world(&["a"]).phase1(json!([{"op":"data","sid":"a"}]), &Rules::seqtun());
    assert!(p.phase2().wake_on_ready);
}

#[test]
fn phase2_drains_carry_touch_and_spent_rules() {
    let gap = faults(|f| {
        f.budget_gap = true;
        f.tcp_polls_do_not_refresh = true;
    });
    let mut p = world(&["a"]).phase1(json!([{"op":"data","sid":"a"}]), &gap);
    let d = p.phase2().drains[0];
    assert_eq!((d.touch, d.spent), (false, Spent::NoEntry));
    let mut p = world(&["a"]).phase1(json!([{"op":"data","sid":"a"}]), &Rules::seqtun());
    let d = p.phase2().drains[0];
    assert_eq!((d.touch, d.spent), (true, Spent::Placeholder));
    assert_eq!(
        NodeParams::default().drain_deadline(false),
        Duration::from_secs(15)
    );
}
