//! The node's timing rules (§5.3, §5.4, §7.4, §7.7, §5.1), exact to the millisecond. These
//! moved here from seqtun-node's socket tests, where they slept in real time and could only
//! assert lower bounds; the same behaviours over real sockets are the conformance vectors in
//! `vectors/node/longpoll`, `seq` and `reaping`, run against the reference node.

use std::time::Duration;

use serde_json::{Value, json};

use crate::driver::{NodeOnly, b64, d};
use crate::origin::Origin;

const MS: fn(u64) -> Duration = Duration::from_millis;
const LONG: Duration = Duration::from_secs(600);

fn data(sid: &str, seq: u64, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        json!({"op":"data","sid":sid,"seq":seq})
    } else {
        json!({"op":"data","sid":sid,"seq":seq,"d":b64(bytes)})
    }
}

#[test]
fn a_pure_poll_batch_is_held_until_the_long_poll_deadline() {
    let mut n = NodeOnly::new(|p, _| p.longpoll_deadline = MS(700));
    n.node.origin("echo", Origin::echo(Duration::ZERO));
    let sid = n.connect("echo");
    let (took, r) = n.batch(json!([{"op":"data","sid":sid}]));
    assert_eq!(took, MS(700));
    assert_eq!(r[0], json!({"sid":sid,"eof":false}));
}

#[test]
fn a_long_poll_returns_with_a_push() {
    let mut n = NodeOnly::new(|p, _| p.longpoll_deadline = LONG);
    n.node
        .origin("push", Origin::pushing(&[(MS(150), b"push")]));
    let sid = n.connect("push");
    let (took, r) = n.batch(json!([{"op":"data","sid":sid}]));
    assert_eq!(
        took,
        MS(150),
        "a pure poll does not settle: it answers at the push"
    );
    assert_eq!(d(&r[0]), b"push");
}

#[test]
fn an_active_batch_does_not_wait_for_the_long_poll() {
    let mut n = NodeOnly::new(|p, _| p.longpoll_deadline = LONG);
    n.node.origin("sink", Origin::sink());
    let sid = n.connect("sink");
    let (took, r) = n.batch(json!([{"op":"data","sid":sid,"d":b64(b"w")}]));
    assert_eq!(took, n.node.params.active_drain_deadline);
    assert_eq!(r[0], json!({"sid":sid,"eof":false}));
    assert_eq!(n.node.uplink(&sid)[0].1, b"w");
}

#[test]
fn settle_collects_a_multi_packet_answer_in_one_reply() {
    let mut n = NodeOnly::new(|p, _| p.settle_step = MS(200));
    let parts: [(Duration, &[u8]); 3] = [(MS(0), b"one "), (MS(20), b"two "), (MS(40), b"three")];
    n.node.origin("slow", Origin::answering(&parts));
    let sid = n.connect("slow");
    let (took, r) = n.batch(json!([{"op":"data","sid":sid,"d":b64(b"go")}]));
    assert_eq!(d(&r[0]), b"one two three");
    // Woken at 0 ms; grown at the 200 ms look; still at 400 ms: drain.
    assert_eq!(took, MS(400));
}

#[test]
fn idle_sessions_are_reaped_and_polled_ones_are_not() {
    let mut n = NodeOnly::new(|p, _| {
        p.tcp_idle_timeout = Duration::from_secs(2);
        p.reap_interval = MS(200);
        p.longpoll_deadline = MS(600);
    });
    n.node.origin("echo", Origin::echo(Duration::ZERO));
    let idle = n.connect("echo");
    let polled = n.connect("echo");
    let mut seq = 0;
    while n.now - n.t0 < Duration::from_secs(4) {
        let r = n.op(data(&polled, seq, b""));
        assert_eq!(r["eof"], false, "the long-polled session was reaped: {r}");
        seq += 1;
    }
    assert_eq!(
        n.op(json!({"op":"data","sid":idle})),
        json!({"sid":idle,"eof":true})
    );
}

/// Seq 0 parks as an idle poll (a 15 s long-poll); 100 ms later seq 1 writes `keystroke`.
/// Returns the node and the two batches.
fn poll_then_write(preemption: bool) -> (NodeOnly, String, u64, u64) {
    let mut n = NodeOnly::new(|p, f| {
        p.longpoll_deadline = MS(15_000);
        p.seq_wait_timeout = LONG;
        f.no_poll_preemption = !preemption;
    });
    n.node.origin("echo", Origin::echo(Duration::ZERO));
    let sid = n.connect("echo");
    let poll = n.send(json!([data(&sid, 0, b"")]));
    n.advance(MS(100));
    assert!(!n.is_answered(poll), "parked");
    let write = n.send(json!([data(&sid, 1, b"keystroke")]));
    (n, sid, poll, write)
}

#[test]
fn a_parked_poll_is_preempted_by_the_next_seq() {
    let (mut n, sid, poll, write) = poll_then_write(true);
    let (waited, r) = n.wait(poll);
    assert_eq!(waited, MS(100), "answered the moment seq 1 arrived");
    assert_eq!(r[0], json!({"sid":sid,"eof":false,"seq":0}));
    let (_, r) = n.wait(write);
    assert_eq!(d(&r[0]), b"keystroke");
    assert_eq!(r[0]["seq"], 1);
}

#[test]
fn without_preemption_the_write_waits_out_the_long_poll() {
    // NODE-903 (E-19): the vectors' mutant check for §7.7, exact here.
    let (mut n, _, poll, write) = poll_then_write(false);
    assert_eq!(n.wait(poll).0, MS(15_000));
    assert_eq!(n.wait(write).0, MS(14_900 + 10), "then its own settle step");
}

#[test]
fn an_active_seq_op_waits_for_its_own_answer_not_a_siblings() {
    let mut n = NodeOnly::new(|p, _| p.active_drain_deadline = Duration::from_secs(5));
    n.node.origin("slow", Origin::echo(MS(300)));
    n.node
        .origin("ready", Origin::pushing(&[(MS(0), b"sibling")]));
    let a = n.connect("slow");
    let b = n.connect("ready");
    let (took, r) = n.batch(json!([data(&a, 0, b"ping"), {"op":"data","sid":b}]));
    assert_eq!(d(&r[0]), b"ping", "{}", r[0]);
    assert_eq!(d(&r[1]), b"sibling");
    assert_eq!(took, MS(310), "300 ms for the echo, one settle step");
}

#[test]
fn a_later_seq_times_out_at_the_seq_wait_and_expected_stays() {
    let mut n = NodeOnly::new(|_, _| {});
    n.node.origin("echo", Origin::echo(Duration::ZERO));
    let sid = n.connect("echo");
    let (took, r) = n.batch(json!([data(&sid, 3, b"late")]));
    assert_eq!(took, Duration::from_secs(30));
    assert_eq!(
        r[0],
        json!({"e":"seq 3 timed out waiting for 0 (waited 30s)","seq":3})
    );
    assert!(n.node.uplink(&sid).is_empty(), "nothing written");
    let zero = n.op(data(&sid, 0, b""));
    assert!(zero.get("e").is_none(), "a later seq 0 still runs: {zero}");
}

#[test]
fn phase2_drains_take_the_budget_in_op_order() {
    // §5.4: a 60-byte cap and a 100-byte budget over three sessions holding 60 bytes each.
    let mut n = NodeOnly::new(|p, _| {
        p.tcp_drain_max = 60;
        p.batch_budget = 100;
    });
    for host in ["a", "b", "c", "d"] {
        n.node
            .origin(host, Origin::pushing(&[(MS(0), &[host.as_bytes()[0]; 60])]));
    }
    let sids: Vec<String> = ["a", "b", "c"].iter().map(|h| n.connect(h)).collect();
    let ops: Vec<Value> = sids.iter().map(|s| json!({"op":"data","sid":s})).collect();
    let (_, r) = n.batch(json!(ops));
    let sizes: Vec<usize> = r.iter().map(|x| d(x).len()).collect();
    assert_eq!(sizes, [60, 40, 0]);
    assert_eq!(
        r[2],
        json!({"sid":sids[2],"eof":false}),
        "placeholder, no false eof"
    );
    // A connect_data's drain reserves at its position too, before a later op's drain.
    let s = n.connect("a");
    n.advance(MS(1));
    let opened = json!({"op":"connect_data","host":"d","port":80,"d":""});
    let (_, r) = n.batch(json!([opened, {"op":"data","sid":s}]));
    assert_eq!((d(&r[0]).len(), d(&r[1]).len()), (60, 40));
}

#[test]
fn data_then_close_writes_first_and_close_then_data_never_writes() {
    let mut n = NodeOnly::new(|_, _| {});
    n.node.origin("sink", Origin::sink());
    let sid = n.connect("sink");
    let (_, r) = n.batch(json!([data(&sid, 0, b"X"), {"op":"close","sid":sid}]));
    assert_eq!(
        r,
        [
            json!({"sid":sid,"eof":false,"seq":0}),
            json!({"sid":sid,"eof":true})
        ]
    );
    assert_eq!(n.node.uplink(&sid).len(), 1);
    assert!(!n.node.is_live(&sid));
    let other = n.connect("sink");
    let (took, r) = n.batch(json!([{"op":"close","sid":other}, data(&other, 0, b"Y")]));
    assert_eq!(r[1], json!({"sid":other,"eof":true,"seq":0}));
    assert!(n.node.uplink(&other).is_empty());
    assert_eq!(took, Duration::ZERO);
}
