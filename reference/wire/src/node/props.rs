//! Properties of the whole planner over arbitrary batches and arbitrary I/O outcomes: every op
//! gets exactly one reply in its slot (§3.1), and every seq'd op's reply echoes its seq (§7.3),
//! except where a deployed divergence says otherwise on purpose.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ops::{Transport, parse_batch};
use crate::params::NodeParams;
use crate::reply::Reply;
use crate::rules::{NodeFaults, Rules};
use crate::seq_gate::{Arrival, Retransmit, Turn};

fn sid() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(Some("a")),
        Just(Some("b")),
        Just(Some("gone")),
        Just(None)
    ]
}

fn d() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("")),
        Just(Some("eA==")),
        Just(Some("@@"))
    ]
}

fn with(mut v: Value, key: &str, val: Option<Value>) -> Value {
    if let Some(val) = val {
        v[key] = val;
    }
    v
}

fn raw_op() -> impl Strategy<Value = Value> {
    let session = |name: &'static str| {
        (sid(), d(), proptest::option::of(0u64..4)).prop_map(move |(s, d, seq)| {
            let v = with(json!({"op": name}), "sid", s.map(|s| json!(s)));
            let v = with(v, "d", d.map(|d| json!(d)));
            with(v, "seq", seq.map(|q| json!(q)))
        })
    };
    let open = |name: &'static str| {
        (any::<bool>(), d()).prop_map(move |(ok, d)| {
            let port = if ok { 80 } else { 0 };
            with(
                json!({"op": name, "host": "h", "port": port}),
                "d",
                d.map(|d| json!(d)),
            )
        })
    };
    prop_oneof![
        session("data"),
        session("data"),
        session("close"),
        session("udp_data"),
        open("connect"),
        open("connect_data"),
        open("udp_open"),
        Just(json!({"op":"frob"})),
        (0u64..4).prop_map(|seq| json!({"op":"data","sid":"a","seq":seq,"port":"x"})),
        Just(json!(7)),
    ]
}

/// The `seq` a reply to `raw` must echo on a node that echoes: a seq'd `data` op's, or a
/// malformed op's valid one.
fn owed_seq(raw: &Value) -> Option<u64> {
    let seq = raw.get("seq").and_then(Value::as_u64)?;
    let malformed = raw.get("port").is_some_and(|p| p.is_string());
    (raw["op"] == "data" || malformed).then_some(seq)
}

/// Feeds a seq'd op's machine arbitrary (valid) I/O outcomes until it answers.
fn run_job(mut job: SeqJob, choices: &mut VecDeque<u8>) -> Reply {
    let t = Instant::now();
    let mut next = || choices.pop_front().unwrap_or(0);
    let mut step = job.step(JobInput::Start);
    for _ in 0..64 {
        let input = match step {
            JobStep::Done(reply) => return reply,
            JobStep::Retransmit | JobStep::AwaitOriginal { .. } => {
                JobInput::Retransmit(match next() % 4 {
                    0 => Retransmit::NotReplaySafe,
                    1 => Retransmit::Pending,
                    2 => Retransmit::Held(Reply::drained("a", b"z", false)),
                    _ => Retransmit::Released { expected: 9 },
                })
            }
            JobStep::Arrive { .. } => JobInput::Arrived(match next() % 5 {
                0 => Arrival::Run,
                1 => Arrival::Duplicate { expected: 9 },
                2 => Arrival::InProgress { expected: 0 },
                3 => Arrival::Backlog { limit: 1 },
                _ => Arrival::Wait {
                    deadline: t,
                    preempt: next() % 2 == 0,
                },
            }),
            JobStep::PollTurn | JobStep::AwaitTurn { .. } => match next() % 4 {
                0 => JobInput::SessionClosed,
                1 => JobInput::Turn(Turn::Run),
                2 => JobInput::Turn(Turn::Wait { deadline: t }),
                _ => JobInput::Turn(Turn::TimedOut {
                    expected: 0,
                    waited: Duration::ZERO,
                }),
            },
            JobStep::Write(_) => JobInput::Wrote(match next() % 3 {
                0 => WriteOutcome::Written,
                1 => WriteOutcome::Closed,
                _ => WriteOutcome::Failed("x".into()),
            }),
            JobStep::WaitActive { .. } => JobInput::Woke(next() % 2 == 0),
            JobStep::Drain { .. } => JobInput::Drained(match next() % 2 {
                0 => TcpDrain::Closed,
                _ => TcpDrain::Bytes {
                    bytes: b"y",
                    eof: next() % 2 == 0,
                },
            }),
            JobStep::Preempt
            | JobStep::Touch
            | JobStep::WriteBlind(_)
            | JobStep::Settle
            | JobStep::WaitIdle { .. } => JobInput::Performed,
        };
        step = job.step(input);
    }
    panic!("the machine did not finish in 64 steps");
}

/// Runs a batch through the planner with arbitrary I/O outcomes.
fn run(raw: &[Value], rules: &Rules, choices: Vec<u8>) -> Vec<Reply> {
    let mut choices: VecDeque<u8> = choices.into();
    let params = NodeParams {
        batch_budget: 2,
        tcp_drain_max: 1,
        ..NodeParams::default()
    };
    let mut p = match plan(parse_batch(raw.to_vec()), &params, rules) {
        Start::Answered(r) => return r,
        Start::Plan(p) => p,
    };
    let mut opens = Vec::new();
    while let Some(step) = p.next_step() {
        match step {
            Step::Open { slot, .. } => opens.push(slot),
            Step::Write { slot, sid, .. } | Step::FindJob { slot, sid } => {
                p.found(slot, sid != "gone");
            }
            Step::Close { .. } => {}
        }
    }
    for slot in opens {
        let ok = !choices.pop_front().unwrap_or(0).is_multiple_of(3);
        p.opened(
            slot,
            if ok {
                Ok(format!("n{slot}"))
            } else {
                Err(crate::reply::OpError::ConnectFailed("no".into()))
            },
        );
    }
    let mut p2 = p.phase2();
    for d in &p2.drains {
        match d.transport {
            Transport::Udp => p.udp_drained(d.slot, &[b"u"], false),
            Transport::Tcp => match p2.ledger.grant(d.spent) {
                None => p.tcp_drained(d.slot, TcpDrain::Omitted),
                Some(n) => {
                    let bytes = &b"zz"[..n.min(2)];
                    p2.ledger.settle(n, bytes.len());
                    p.tcp_drained(d.slot, TcpDrain::Bytes { bytes, eof: false });
                }
            },
        }
    }
    for (slot, job) in p2.jobs {
        let reply = run_job(job, &mut choices);
        p.job_done(slot, reply);
    }
    p.finish()
}

fn faults() -> impl Strategy<Value = NodeFaults> {
    proptest::collection::vec(any::<bool>(), 17).prop_map(|b| NodeFaults {
        unordered_writes: b[0],
        unordered_drains: b[1],
        no_caps_on_batched_connect_data: b[2],
        close_before_data: b[3],
        no_caps: b[4],
        no_poll_preemption: b[5],
        udp_polls_do_not_refresh: b[6],
        bad_base64_keeps_seq: b[7],
        long_poll_ignores_readiness: b[8],
        active_op_waits_on_batch: b[9],
        tcp_polls_do_not_refresh: b[10],
        single_ignores_bad_base64: b[11],
        no_seq_on_missing_sid: b[12],
        no_replay_safe: b[13],
        replays_fresh_drain: b[14],
        reruns_retransmits: b[15],
        holds_without_ack: b[16],
        ..NodeFaults::default()
    })
}

proptest! {
    #[test]
    fn every_op_gets_one_reply_in_place_and_seqd_ops_echo_seq(
        raw in proptest::collection::vec(raw_op(), 0..12),
        choices in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let r = run(&raw, &Rules::seqtun(), choices);
        prop_assert_eq!(r.len(), raw.len());
        for (op, reply) in raw.iter().zip(&r) {
            prop_assert_eq!(reply.seq, owed_seq(op), "{} -> {:?}", op, reply);
        }
    }

    #[test]
    fn divergences_that_keep_the_slots_keep_them(
        raw in proptest::collection::vec(raw_op(), 0..12),
        choices in proptest::collection::vec(any::<u8>(), 0..64),
        f in faults(),
        legacy: bool,
    ) {
        let rules = Rules::new(legacy, &f);
        let r = run(&raw, &rules, choices);
        prop_assert_eq!(r.len(), raw.len());
        for (op, reply) in raw.iter().zip(&r) {
            let missing_sid = op.get("sid").is_none() && op["op"] == "data";
            let unechoed = legacy || (missing_sid && f.no_seq_on_missing_sid);
            let owed = owed_seq(op).filter(|_| !unechoed);
            prop_assert_eq!(reply.seq, owed, "{} -> {:?}", op, reply);
            prop_assert!(reply.caps.is_none() || !legacy);
        }
    }

    #[test]
    fn the_slot_faults_are_the_only_ones_that_move_slots(
        raw in proptest::collection::vec(raw_op(), 2..12),
        choices in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let short = Rules::new(false, &NodeFaults { short_replies: true, ..NodeFaults::default() });
        prop_assert_eq!(run(&raw, &short, choices.clone()).len(), raw.len() - 1);
        let gap = Rules::new(false, &NodeFaults { budget_gap: true, ..NodeFaults::default() });
        prop_assert!(run(&raw, &gap, choices).len() <= raw.len());
    }
}
