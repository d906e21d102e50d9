//! §7.4–§7.7 as sequences of steps: what a seq'd op does around its turn, for seqtun and for
//! every deployed divergence the node can stand in for.

use std::time::{Duration, Instant};

use super::*;
use crate::ops::Payload;
use crate::rules::{NodeFaults, Watch};

const SEQ: u64 = 5;

fn job(payload: Payload, rules: &Rules, batch_active: bool) -> SeqJob {
    let job = Job {
        sid: "s".into(),
        seq: SEQ,
        payload,
    };
    SeqJob::new(job, &NodeParams::default(), rules, batch_active)
}

fn seqtun(bytes: &[u8]) -> SeqJob {
    job(Payload::bytes(bytes), &Rules::seqtun(), false)
}

fn bad() -> Payload {
    Payload::parse(Some("@@"))
}

fn with(f: impl FnOnce(&mut NodeFaults)) -> Rules {
    let mut faults = NodeFaults::default();
    f(&mut faults);
    Rules::new(false, &faults)
}

fn drained(bytes: &[u8]) -> JobInput<'_> {
    JobInput::Drained(TcpDrain::Bytes { bytes, eof: false })
}

fn done(step: JobStep) -> Reply {
    match step {
        JobStep::Done(r) => r,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn error(step: JobStep) -> String {
    let r = done(step);
    assert_eq!(r.seq, Some(SEQ), "every reply echoes the op's seq");
    match r.e {
        Some(e) => e,
        None => panic!("expected an error, got {r:?}"),
    }
}

#[test]
fn an_idle_poll_takes_its_turn_parks_and_drains() {
    let mut j = seqtun(b"");
    assert_eq!(j.step(JobInput::Start), JobStep::Arrive);
    assert_eq!(j.step(JobInput::Arrived(Arrival::Run)), JobStep::Touch);
    assert_eq!(j.step(JobInput::Performed), JobStep::Write(Vec::new()));
    let park = j.step(JobInput::Wrote(WriteOutcome::Written));
    let longpoll = NodeParams::default().longpoll_deadline;
    assert_eq!(
        park,
        JobStep::WaitIdle {
            within: longpoll,
            preemptible: true
        }
    );
    assert_eq!(j.step(JobInput::Performed), JobStep::Drain { touch: true });
    let r = done(j.step(drained(b"hi")));
    assert_eq!(r, Reply::drained("s", b"hi", false).with_seq(Some(SEQ)));
}

#[test]
fn an_idle_poll_in_an_active_batch_waits_the_short_deadline() {
    let mut j = job(Payload::bytes(b""), &Rules::seqtun(), true);
    j.step(JobInput::Start);
    j.step(JobInput::Arrived(Arrival::Run));
    j.step(JobInput::Performed);
    let within = NodeParams::default().active_drain_deadline;
    assert_eq!(
        j.step(JobInput::Wrote(WriteOutcome::Written)),
        JobStep::WaitIdle {
            within,
            preemptible: true
        }
    );
}

#[test]
fn a_write_waits_on_its_own_session_then_settles() {
    let mut j = seqtun(b"ping");
    j.step(JobInput::Start);
    j.step(JobInput::Arrived(Arrival::Run));
    assert_eq!(
        j.step(JobInput::Performed),
        JobStep::Write(b"ping".to_vec())
    );
    let within = NodeParams::default().active_drain_deadline;
    assert_eq!(
        j.step(JobInput::Wrote(WriteOutcome::Written)),
        JobStep::WaitActive {
            within,
            watch: Watch::Own
        }
    );
    assert_eq!(j.step(JobInput::Woke(true)), JobStep::Settle);
    assert_eq!(j.step(JobInput::Performed), JobStep::Drain { touch: true });
    // Nothing arrived: no settle.
    let mut j = seqtun(b"ping");
    for input in [
        JobInput::Start,
        JobInput::Arrived(Arrival::Run),
        JobInput::Performed,
        JobInput::Wrote(WriteOutcome::Written),
    ] {
        j.step(input);
    }
    assert_eq!(
        j.step(JobInput::Woke(false)),
        JobStep::Drain { touch: true }
    );
}

#[test]
fn a_waiting_op_preempts_a_parked_poll_then_polls_its_turn() {
    let t = Instant::now() + Duration::from_secs(30);
    let mut j = seqtun(b"k");
    j.step(JobInput::Start);
    let wait = Arrival::Wait {
        deadline: t,
        preempt: true,
    };
    assert_eq!(j.step(JobInput::Arrived(wait)), JobStep::Preempt);
    assert_eq!(j.step(JobInput::Performed), JobStep::PollTurn);
    let turn = JobInput::Turn(Turn::Wait { deadline: t });
    assert_eq!(j.step(turn), JobStep::AwaitTurn { deadline: t });
    assert_eq!(j.step(JobInput::Turn(Turn::Run)), JobStep::Touch);
    // NODE-903 does not preempt (E-19).
    let mut j = job(
        Payload::bytes(b"k"),
        &with(|f| f.no_poll_preemption = true),
        false,
    );
    j.step(JobInput::Start);
    assert_eq!(j.step(JobInput::Arrived(wait)), JobStep::PollTurn);
}

#[test]
fn refusals_at_the_gate_write_nothing_and_echo_seq() {
    let cases = [
        (
            Arrival::Duplicate { expected: 9 },
            "seq 5 already processed (expected 9)",
        ),
        (
            Arrival::InProgress { expected: 2 },
            "seq 5 already in progress (expected 2)",
        ),
        (
            Arrival::Backlog { limit: 64 },
            "seq 5 rejected: 64 ops of this session already wait for their turn (raise --seq-max-waiting)",
        ),
    ];
    for (arrival, text) in cases {
        let mut j = seqtun(b"x");
        j.step(JobInput::Start);
        assert_eq!(error(j.step(JobInput::Arrived(arrival))), text);
    }
}

#[test]
fn a_timeout_or_a_close_while_waiting_ends_the_op() {
    let mut j = seqtun(b"x");
    j.step(JobInput::Start);
    let wait = Arrival::Wait {
        deadline: Instant::now(),
        preempt: false,
    };
    assert_eq!(j.step(JobInput::Arrived(wait)), JobStep::PollTurn);
    let timed_out = Turn::TimedOut {
        expected: 0,
        waited: Duration::from_secs(30),
    };
    assert_eq!(
        error(j.step(JobInput::Turn(timed_out))),
        "seq 5 timed out waiting for 0 (waited 30s)"
    );
    let mut j = seqtun(b"x");
    j.step(JobInput::Start);
    j.step(JobInput::Arrived(wait));
    let r = done(j.step(JobInput::SessionClosed));
    assert_eq!(r, Reply::gone("s").with_seq(Some(SEQ)));
}

#[test]
fn a_bad_payload_consumes_its_seq_on_seqtun_and_not_on_node_903() {
    let mut j = job(bad(), &Rules::seqtun(), false);
    assert_eq!(
        j.step(JobInput::Start),
        JobStep::Arrive,
        "it queues for its turn"
    );
    assert_eq!(j.step(JobInput::Arrived(Arrival::Run)), JobStep::Touch);
    assert!(error(j.step(JobInput::Performed)).starts_with("bad base64: "));
    let mut j = job(bad(), &with(|f| f.bad_base64_keeps_seq = true), false);
    assert!(error(j.step(JobInput::Start)).starts_with("bad base64: "));
}

#[test]
fn write_outcomes() {
    let ready = |j: &mut SeqJob| {
        j.step(JobInput::Start);
        j.step(JobInput::Arrived(Arrival::Run));
        j.step(JobInput::Performed);
    };
    let mut j = seqtun(b"x");
    ready(&mut j);
    assert_eq!(
        done(j.step(JobInput::Wrote(WriteOutcome::Closed))),
        Reply::gone("s").with_seq(Some(SEQ))
    );
    let mut j = seqtun(b"x");
    ready(&mut j);
    let failed = JobInput::Wrote(WriteOutcome::Failed("reset".into()));
    assert_eq!(error(j.step(failed)), "write failed: reset");
}

#[test]
fn unordered_writes_bypass_the_gate() {
    let mut j = job(
        Payload::bytes(b"x"),
        &with(|f| f.unordered_writes = true),
        false,
    );
    assert_eq!(j.step(JobInput::Start), JobStep::Touch);
}

#[test]
fn unordered_drains_drain_on_arrival_and_write_on_their_turn() {
    let rules = with(|f| f.unordered_drains = true);
    let mut j = job(Payload::bytes(b"w"), &rules, false);
    assert_eq!(j.step(JobInput::Start), JobStep::Drain { touch: true });
    assert_eq!(j.step(drained(b"early")), JobStep::Arrive);
    let blind = j.step(JobInput::Arrived(Arrival::Run));
    assert_eq!(blind, JobStep::WriteBlind(b"w".to_vec()));
    let r = done(j.step(JobInput::Performed));
    assert_eq!(r, Reply::drained("s", b"early", false).with_seq(Some(SEQ)));
}

#[test]
fn polls_that_do_not_refresh_skip_the_touch() {
    let rules = with(|f| f.tcp_polls_do_not_refresh = true);
    let mut j = job(Payload::bytes(b""), &rules, false);
    j.step(JobInput::Start);
    assert_eq!(
        j.step(JobInput::Arrived(Arrival::Run)),
        JobStep::Write(Vec::new())
    );
    j.step(JobInput::Wrote(WriteOutcome::Written));
    assert_eq!(j.step(JobInput::Performed), JobStep::Drain { touch: false });
    let mut writer = job(Payload::bytes(b"x"), &rules, false);
    writer.step(JobInput::Start);
    let touch = writer.step(JobInput::Arrived(Arrival::Run));
    assert_eq!(touch, JobStep::Touch, "a write still touches");
}

#[test]
fn the_active_op_mutant_watches_the_whole_batch() {
    let rules = with(|f| f.active_op_waits_on_batch = true);
    let mut j = job(Payload::bytes(b"x"), &rules, false);
    j.step(JobInput::Start);
    j.step(JobInput::Arrived(Arrival::Run));
    j.step(JobInput::Performed);
    let step = j.step(JobInput::Wrote(WriteOutcome::Written));
    assert!(matches!(
        step,
        JobStep::WaitActive {
            watch: Watch::Batch,
            ..
        }
    ));
}

#[test]
fn an_out_of_order_input_is_an_internal_error_not_a_panic() {
    let mut j = seqtun(b"x");
    let e = error(j.step(JobInput::Woke(true)));
    assert!(e.starts_with("internal error: "), "{e}");
}
