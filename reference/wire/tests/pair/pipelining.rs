//! Client pipeline and node together over a relay-like hop (§7.7, §7.8): what a user feels
//! (keystroke latency, stream integrity) under latency, reordering and loss.

use std::time::Duration;

use seqtun_wire::client::negotiate::Mode;
use seqtun_wire::client::{ClientFaults, ClientParams, End};
use seqtun_wire::params::NodeParams;
use seqtun_wire::rules::{NodeFaults, Rules};

use crate::origin::Origin;
use crate::pair::{Link, Pair};

const MS: fn(u64) -> Duration = Duration::from_millis;
const HOP: Duration = Duration::from_millis(800);

fn pair(rules: Rules, link: Link) -> Pair {
    Pair::new(NodeParams::default(), rules, ClientParams::default(), link)
}

fn opened(p: &mut Pair, name: &str, host: &str) {
    p.client.open(name, host, 80);
    assert!(p.run_until(Duration::from_secs(10), |p| {
        p.client.app(name).pipeline.is_some()
    }));
}

/// A pattern stream: byte `i` is `i * 7 % 251`, so a moved or lost byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// `stream` in `chunk`-byte parts, one every `every`.
fn paced(stream: &[u8], chunk: usize, every: Duration) -> Vec<(Duration, &[u8])> {
    let at = |i: usize| every * u32::try_from(i).expect("few parts");
    stream
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| (at(i), c))
        .collect()
}

/// Where two streams differ, in words (streams are too long to print).
fn diff(got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    Some(format!(
        "{} bytes for {} wanted; first difference at {:?}",
        got.len(),
        want.len(),
        at
    ))
}

#[test]
fn a_keystroke_while_a_poll_is_parked_reaches_the_origin_one_hop_later() {
    let mut p = pair(Rules::seqtun(), Link::new(HOP, 1));
    p.node.origin("shell", Origin::echo(Duration::ZERO));
    opened(&mut p, "a", "shell");
    assert!(
        p.client
            .app("a")
            .pipeline
            .as_ref()
            .unwrap()
            .mode()
            .is_pipelined()
    );
    // Let the session go idle: its poll is parked at the node.
    p.run_until(Duration::from_secs(5), |_| false);
    let sid = p.client.app("a").sid.clone().unwrap();
    let typed = p.now;
    p.client.write("a", b"k");
    assert!(p.run_until(Duration::from_secs(10), |p| p.client.app("a").inbox == b"k"));
    let (at, bytes) = &p.node.uplink(&sid)[0];
    assert_eq!(bytes, b"k");
    assert_eq!(*at - typed, HOP, "sent at once, not behind the parked poll");
    let echoed = p.client.app("a").writes[0].0 - typed;
    assert_eq!(echoed, HOP + MS(10) + HOP, "one settle step at the node");
}

#[test]
fn on_node_903_the_keystroke_waits_behind_the_parked_poll() {
    // The same run without poll preemption (E-19): what §7.7 saves, and proof the test above
    // can fail.
    let rules = Rules::new(
        false,
        &NodeFaults {
            no_poll_preemption: true,
            ..NodeFaults::default()
        },
    );
    let mut p = pair(rules, Link::new(HOP, 1));
    p.node.origin("shell", Origin::echo(Duration::ZERO));
    opened(&mut p, "a", "shell");
    p.run_until(Duration::from_secs(5), |_| false);
    let sid = p.client.app("a").sid.clone().unwrap();
    let typed = p.now;
    p.client.write("a", b"k");
    assert!(p.run_until(Duration::from_secs(30), |p| p.client.app("a").inbox == b"k"));
    let waited = p.node.uplink(&sid)[0].0 - typed;
    assert!(waited > Duration::from_secs(5), "{waited:?}");
}

/// A download and an upload at once over a hop whose messages overtake each other: where the
/// app's downlink and the origin's uplink differ from what was sent, if anywhere.
fn overtaking(rules: Rules, faults: ClientFaults, seed: u64) -> (Option<String>, Option<String>) {
    let down = pattern(200_000);
    let up = pattern(50_000);
    let mut link = Link::new(MS(300), seed);
    link.jitter = MS(1500);
    let mut p = pair(rules, link);
    p.client.faults = faults;
    let parts = paced(&down, 4000, MS(40));
    p.node
        .origin("stream", Origin::pushing(&parts).then_eof(MS(20_000)));
    opened(&mut p, "a", "stream");
    for chunk in up.chunks(5000) {
        p.client.write("a", chunk);
        p.run_until(MS(700), |_| false);
    }
    let ended = p.run_until(Duration::from_secs(120), |p| {
        p.client.app("a").end.is_some()
    });
    let app = p.client.app("a");
    assert!(ended, "seed {seed}: the session did not end");
    let sid = app.sid.clone().unwrap();
    let got: Vec<u8> = p
        .node
        .uplink(&sid)
        .iter()
        .flat_map(|(_, b)| b.clone())
        .collect();
    (diff(&app.inbox, &down), diff(&got, &up))
}

#[test]
fn replies_that_overtake_each_other_are_written_in_seq_order() {
    for seed in 0..8 {
        let (down, up) = overtaking(Rules::seqtun(), ClientFaults::default(), seed);
        assert_eq!(down, None, "seed {seed}: downlink in order, every byte");
        assert_eq!(
            up, None,
            "seed {seed}: uplink in seq order whatever overtook what"
        );
    }
}

#[test]
fn the_same_check_catches_a_node_or_client_that_does_not_order() {
    // Proves the test above can fail: #1115-like unordered writes at the node, and a client
    // that writes replies in arrival order, each break it for some seed.
    let unordered = Rules::new(
        false,
        &NodeFaults {
            unordered_writes: true,
            ..NodeFaults::default()
        },
    );
    let node_caught = (0..8).any(|seed| {
        overtaking(unordered.clone(), ClientFaults::default(), seed)
            .1
            .is_some()
    });
    assert!(node_caught, "an unordered node went unnoticed");
    let client = ClientFaults {
        unordered_delivery: true,
        ..ClientFaults::default()
    };
    let client_caught = (0..8).any(|seed| {
        overtaking(Rules::seqtun(), client.clone(), seed)
            .0
            .is_some()
    });
    assert!(client_caught, "an unordered client went unnoticed");
}

#[test]
fn a_lost_reply_ends_the_session_and_nothing_is_retried() {
    let mut p = pair(Rules::seqtun(), Link::new(HOP, 2));
    p.node.origin("sink", Origin::sink());
    opened(&mut p, "a", "sink");
    let sid = p.client.app("a").sid.clone().unwrap();
    p.link.lose_replies = true;
    p.client.write("a", b"x");
    let ended = p.run_until(Duration::from_secs(300), |p| {
        p.client.app("a").end.is_some()
    });
    assert!(ended);
    assert!(
        matches!(p.client.app("a").end, Some(End::Failed(_))),
        "{:?}",
        p.client.app("a").end
    );
    assert!(p.client.app("a").inbox.is_empty());
    let writes: Vec<&[u8]> = p
        .node
        .uplink(&sid)
        .iter()
        .map(|(_, b)| b.as_slice())
        .collect();
    assert_eq!(writes, [b"x"], "written once, never again (§7.8)");
}

#[test]
fn random_loss_never_corrupts_a_stream() {
    let down = pattern(100_000);
    let (mut whole, mut cut) = (0, 0);
    for seed in 0..16 {
        let mut link = Link::new(MS(500), 100 + seed);
        link.jitter = MS(1000);
        link.loss = 0.05;
        let mut p = pair(Rules::seqtun(), link);
        let parts = paced(&down, 2000, MS(30));
        p.node
            .origin("stream", Origin::pushing(&parts).then_eof(MS(2000)));
        p.client.open("a", "stream", 80);
        p.run_until(Duration::from_secs(600), |p| {
            p.client.app("a").end.is_some()
        });
        let app = p.client.app("a");
        assert!(
            down.starts_with(&app.inbox),
            "seed {seed}: a prefix, never wrong bytes"
        );
        if app.end == Some(End::Eof) {
            assert_eq!(diff(&app.inbox, &down), None, "seed {seed}");
            whole += 1;
        } else {
            cut += 1;
        }
    }
    // Both outcomes occur, so the checks above ran on streams cut by a loss too.
    assert!(whole > 0 && cut > 0, "{whole} whole, {cut} cut");
}

#[test]
fn a_legacy_node_gets_the_legacy_loop_and_the_same_bytes() {
    let mut p = pair(Rules::new(true, &NodeFaults::default()), Link::new(HOP, 3));
    p.node.origin("echo", Origin::echo(MS(50)));
    opened(&mut p, "a", "echo");
    assert_eq!(
        p.client.app("a").pipeline.as_ref().unwrap().mode(),
        Mode::Legacy
    );
    let sent = pattern(30_000);
    for chunk in sent.chunks(3000) {
        p.client.write("a", chunk);
    }
    let len = sent.len();
    assert!(
        p.run_until(Duration::from_secs(120), |p| p.client.app("a").inbox.len()
            >= len)
    );
    assert_eq!(diff(&p.client.app("a").inbox, &sent), None);
}
