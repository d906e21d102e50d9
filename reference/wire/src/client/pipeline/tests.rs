use std::time::{Duration, Instant};

use super::*;
use crate::b64;
use crate::client::replies::OpFailure;
use crate::reply::Reply;

const MS: fn(u64) -> Duration = Duration::from_millis;

pub(super) fn pipelined(now: Instant) -> Pipeline {
    Pipeline::new(
        Mode::Pipelined {
            depth: 2,
            preempts: true,
        },
        &ClientParams::default(),
        &ClientFaults::default(),
        now,
    )
}

pub(super) fn with_depth(depth: usize, now: Instant) -> Pipeline {
    Pipeline::new(
        Mode::Pipelined {
            depth,
            preempts: true,
        },
        &ClientParams::default(),
        &ClientFaults::default(),
        now,
    )
}

pub(super) fn legacy(now: Instant) -> Pipeline {
    Pipeline::new(
        Mode::Legacy,
        &ClientParams::default(),
        &ClientFaults::default(),
        now,
    )
}

fn with_faults(faults: ClientFaults, now: Instant) -> Pipeline {
    Pipeline::new(
        Mode::Pipelined {
            depth: 2,
            preempts: true,
        },
        &ClientParams::default(),
        &faults,
        now,
    )
}

pub(super) fn reply(bytes: &[u8], seq: Option<u64>) -> OpResult {
    Ok(Reply::drained("s", bytes, false).with_seq(seq))
}

pub(super) fn written(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|Event::Write(b)| b.iter().copied())
        .collect()
}

#[test]
fn seqs_start_at_zero_and_count_polls() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, op_a) = p.send("s", b"hi", t);
    let (_, op_b) = p.send("s", b"", t);
    assert_eq!(op_a.seq, Some(0));
    assert_eq!(op_a.d.as_deref(), Some(b64::encode(b"hi").as_str()));
    assert_eq!(op_b.seq, Some(1));
    assert_eq!(op_b.d, None, "a poll has no d");
    p.on_reply(a, reply(b"", Some(0)), t);
    let (_, op_c) = p.send("s", b"", t);
    assert_eq!(op_c.seq, Some(2));
}

#[test]
fn legacy_sends_no_seq_and_keeps_one_op_out() {
    let t = Instant::now();
    let mut p = legacy(t);
    assert!(p.can_send_bytes());
    let (tok, op) = p.send("s", b"x", t);
    assert_eq!(op.seq, None);
    assert!(!p.can_send_bytes());
    assert_eq!(p.poll_due(), PollDue::Never);
    let ev = p.on_reply(tok, reply(b"yz", None), t);
    assert_eq!(written(&ev), b"yz");
    assert!(p.can_send_bytes());
    assert_eq!(p.end(), None);
}

#[test]
fn reversed_replies_are_written_in_seq_order() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"1", t);
    let (b, _) = p.send("s", b"2", t);
    assert!(
        p.on_reply(b, reply(b"BBB", Some(1)), t).is_empty(),
        "B waits for A"
    );
    assert_eq!(p.held_bytes(), 3, "B's bytes are held");
    let ev = p.on_reply(a, reply(b"A", Some(0)), t);
    assert_eq!(
        ev,
        vec![Event::Write(b"A".to_vec()), Event::Write(b"BBB".to_vec())]
    );
    assert_eq!(p.held_bytes(), 0);
}

#[test]
fn the_fault_writes_in_arrival_order() {
    let t = Instant::now();
    let mut p = with_faults(
        ClientFaults {
            unordered_delivery: true,
            ..ClientFaults::default()
        },
        t,
    );
    let (a, _) = p.send("s", b"1", t);
    let (b, _) = p.send("s", b"2", t);
    let mut out = written(&p.on_reply(b, reply(b"B", Some(1)), t));
    out.extend(written(&p.on_reply(a, reply(b"A", Some(0)), t)));
    assert_eq!(out, b"BA");
}

#[test]
fn a_wrong_seq_ends_the_session_without_writing_its_bytes() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let (b, _) = p.send("s", b"", t);
    let ev = p.on_reply(b, reply(b"late", Some(1)), t);
    assert!(ev.is_empty());
    let ev = p.on_reply(a, reply(b"bad", Some(99)), t);
    assert!(
        ev.is_empty(),
        "neither the wrong reply nor its successor is written"
    );
    assert_eq!(
        p.end(),
        Some(&End::WrongSeq {
            expected: 0,
            got: 99
        })
    );
    assert!(!p.can_send_bytes());
    assert!(!p.take_downgrade());
}

#[test]
fn a_missing_seq_ends_the_session_and_asks_for_the_downgrade_once() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let ev = p.on_reply(a, reply(b"x", None), t);
    assert!(ev.is_empty());
    assert_eq!(p.end(), Some(&End::MissingSeq { expected: 0 }));
    assert!(p.take_downgrade());
    assert!(!p.take_downgrade());
}

#[test]
fn a_whole_batch_error_without_seq_counts_as_missing() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let bad = Reply {
        e: Some("bad json: x".into()),
        ..Reply::default()
    };
    p.on_reply(a, Ok(bad), t);
    assert!(p.take_downgrade());
}

#[test]
fn the_fault_ignores_a_missing_seq() {
    let t = Instant::now();
    let mut p = with_faults(
        ClientFaults {
            ignore_missing_seq: true,
            ..ClientFaults::default()
        },
        t,
    );
    let (a, _) = p.send("s", b"", t);
    assert_eq!(written(&p.on_reply(a, reply(b"x", None), t)), b"x");
    assert_eq!(p.end(), None);
    assert!(!p.take_downgrade());
}

#[test]
fn legacy_replies_need_no_seq() {
    let t = Instant::now();
    let mut p = legacy(t);
    let (a, _) = p.send("s", b"", t);
    assert_eq!(written(&p.on_reply(a, reply(b"x", None), t)), b"x");
    assert!(!p.take_downgrade());
}

#[test]
fn errors_end_the_session_and_eof_ends_it_after_writing() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let err = Reply {
        e: Some("write failed: broken pipe".into()),
        d: Some(b64::encode(b"no")),
        seq: Some(0),
        ..Reply::default()
    };
    assert!(p.on_reply(a, Ok(err), t).is_empty());
    assert!(matches!(p.end(), Some(End::NodeError(e)) if e.starts_with("write failed")));

    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let (b, _) = p.send("s", b"", t);
    let last = Ok(Reply::drained("s", b"bye", true).with_seq(Some(0)));
    assert_eq!(written(&p.on_reply(a, last, t)), b"bye");
    assert_eq!(p.end(), Some(&End::Eof));
    assert!(p.on_reply(b, reply(b"more", Some(1)), t).is_empty());

    let mut p = legacy(t);
    let (a, _) = p.send("s", b"", t);
    p.on_reply(a, Err(OpFailure::Batch("batch timed out".into())), t);
    assert!(matches!(p.end(), Some(End::Failed(_))));
}

#[test]
fn an_idle_session_keeps_exactly_one_poll_out() {
    let t = Instant::now();
    let mut p = pipelined(t);
    // Nothing out: the first poll waits the first ladder step for app bytes.
    assert_eq!(p.poll_due(), PollDue::At(t + MS(20)));
    let (a, _) = p.send("s", b"", t + MS(20));
    assert_eq!(
        p.poll_due(),
        PollDue::Never,
        "one poll out is enough while idle"
    );
    p.on_reply(a, reply(b"", Some(0)), t + MS(100));
    assert_eq!(p.poll_due(), PollDue::At(t + MS(100) + MS(80)));
    let (b, _) = p.send("s", b"", t + MS(180));
    assert_eq!(p.poll_due(), PollDue::Never);
    p.on_reply(b, reply(b"", Some(1)), t + MS(200));
    assert_eq!(p.poll_due(), PollDue::At(t + MS(400)));
}

#[test]
fn the_ladder_climbs_to_500_ms_and_resets_on_bytes() {
    let t = Instant::now();
    let mut p = legacy(t);
    let mut waits = Vec::new();
    for i in 0..6 {
        let PollDue::At(at) = p.poll_due() else {
            panic!("no poll due")
        };
        waits.push(at - t);
        let (tok, _) = p.send("s", b"", t);
        let bytes: &[u8] = if i == 4 { b"x" } else { b"" };
        p.on_reply(tok, reply(bytes, None), t);
    }
    assert_eq!(waits, [20, 80, 200, 500, 500, 20].map(MS));
}

#[test]
fn while_downlink_flows_polls_go_out_at_once_and_writes_still_get_a_slot() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    p.on_reply(a, reply(b"data", Some(0)), t);
    assert_eq!(p.poll_due(), PollDue::Now, "no read wait while bytes flow");
    p.send("s", b"", t);
    assert_eq!(
        p.poll_due(),
        PollDue::Now,
        "a poll answered with bytes earns a second poll: depth 2 keeps two out"
    );
    p.send("s", b"", t);
    assert_eq!(p.poll_due(), PollDue::Never, "depth reached");
    assert!(p.can_send_bytes(), "app bytes never wait behind polls");
}

#[test]
fn a_write_goes_out_while_a_poll_is_parked() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (_, poll) = p.send("s", b"", t);
    assert!(
        p.can_send_bytes(),
        "a pipelined session may send bytes beside a poll"
    );
    let (_, write) = p.send("s", b"GET /", t + MS(5));
    assert_eq!((poll.seq, write.seq), (Some(0), Some(1)));
    assert!(!p.can_send_bytes());
}

#[test]
fn half_close_delivers_what_is_in_flight_then_ends() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"req", t);
    let (b, _) = p.send("s", b"", t);
    p.on_app_eof();
    assert!(!p.can_send_bytes());
    assert_eq!(p.poll_due(), PollDue::Never);
    assert_eq!(written(&p.on_reply(b, reply(b"2", Some(1)), t)), b"");
    assert_eq!(p.end(), None);
    assert_eq!(written(&p.on_reply(a, reply(b"1", Some(0)), t)), b"12");
    assert_eq!(p.end(), Some(&End::AppDone));

    let mut idle = legacy(t);
    idle.on_app_eof();
    assert_eq!(idle.end(), Some(&End::AppDone));
}

#[test]
fn the_watchdog_closes_after_135_s_and_never_skips() {
    let t = Instant::now();
    let mut p = pipelined(t);
    let (a, _) = p.send("s", b"", t);
    let (b, _) = p.send("s", b"", t + MS(1000));
    assert_eq!(p.deadline(), Some(t + Duration::from_secs(135)));
    p.on_reply(b, reply(b"x", Some(1)), t + Duration::from_secs(2));
    p.on_tick(t + Duration::from_secs(134));
    assert_eq!(p.end(), None);
    p.on_tick(t + Duration::from_secs(135));
    assert!(matches!(p.end(), Some(End::ReplyTimeout(_))));
    assert!(
        p.on_reply(a, reply(b"late", Some(0)), t + Duration::from_secs(136))
            .is_empty()
    );

    let mut l = legacy(t);
    l.send("s", b"", t);
    assert_eq!(l.deadline(), Some(t + Duration::from_secs(35)));
}

#[test]
fn bad_payloads_end_the_session() {
    let t = Instant::now();
    let mut p = legacy(t);
    let (a, _) = p.send("s", b"", t);
    let bad = Reply {
        sid: Some("s".into()),
        d: Some("!!".into()),
        eof: Some(false),
        ..Reply::default()
    };
    assert!(p.on_reply(a, Ok(bad), t).is_empty());
    assert!(matches!(p.end(), Some(End::BadPayload(_))));
}
