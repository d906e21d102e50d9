use proptest::prelude::*;

use super::*;

fn reply(seq: u64, bytes: &[u8]) -> Reply {
    Reply::drained("s", bytes, false).with_seq(Some(seq))
}

fn store(max_held: usize, max_bytes: usize) -> ReplayStore {
    ReplayStore::new(ReplayLimits {
        max_held,
        max_bytes,
    })
}

#[test]
fn a_held_reply_is_replayed_exactly_until_acknowledged() {
    let mut s = ReplayStore::new(ReplayLimits::default());
    let r0 = reply(0, b"first");
    let held = s.hold(0, &r0, usize::MAX);
    assert_eq!(held.added, reply_bytes(&r0));
    assert_eq!(s.replay(0), Replay::Held(r0.clone()));
    // Acknowledging seq 0 (ack = 1: every reply below 1 arrived) releases it.
    assert_eq!(s.ack(1), reply_bytes(&r0));
    assert_eq!(s.bytes(), 0);
    assert_eq!(
        s.replay(0),
        Replay::Released {
            acked: 1,
            dropped: false
        }
    );
}

#[test]
fn an_ack_that_arrives_late_changes_nothing() {
    let mut s = ReplayStore::new(ReplayLimits::default());
    for seq in 0..4 {
        s.hold(seq, &reply(seq, b"x"), usize::MAX);
    }
    s.ack(3);
    assert_eq!(s.ack(1), 0, "an older ack from another request");
    assert_eq!(s.len(), 1);
    assert!(matches!(s.replay(3), Replay::Held(_)));
}

#[test]
fn the_session_limits_release_the_oldest_first() {
    // At most two replies.
    let mut s = store(2, usize::MAX);
    for seq in 0..3 {
        s.hold(seq, &reply(seq, b"abc"), usize::MAX);
    }
    assert_eq!(
        s.replay(0),
        Replay::Released {
            acked: 0,
            dropped: true
        }
    );
    assert!(matches!(s.replay(1), Replay::Held(_)));
    assert!(matches!(s.replay(2), Replay::Held(_)));
    // At most the bytes of two small replies: a third pushes the oldest out.
    let small = reply_bytes(&reply(0, b"abc"));
    let mut s = store(usize::MAX, 2 * small);
    for seq in 0..3 {
        s.hold(seq, &reply(seq, b"abc"), usize::MAX);
    }
    assert_eq!(s.len(), 2);
    assert_eq!(s.bytes(), 2 * small);
    // At the edge: exactly the limit fits, a byte more does not.
    let mut s = store(usize::MAX, small);
    assert_eq!(s.hold(0, &reply(0, b"abc"), usize::MAX).added, small);
    let mut s = store(usize::MAX, small - 1);
    assert_eq!(s.hold(0, &reply(0, b"abc"), usize::MAX), Held::default());
}

#[test]
fn the_node_limit_keeps_a_reply_out_rather_than_evicting_other_sessions() {
    let mut s = ReplayStore::new(ReplayLimits::default());
    let r = reply(0, b"abc");
    let size = reply_bytes(&r);
    assert_eq!(s.hold(0, &r, size - 1), Held::default());
    assert!(matches!(
        s.replay(0),
        Replay::Released { dropped: true, .. }
    ));
    assert_eq!(
        s.hold(0, &r, size).added,
        size,
        "exactly the room left fits"
    );
}

#[test]
fn clearing_frees_everything() {
    let mut s = ReplayStore::new(ReplayLimits::default());
    let mut total = 0;
    for seq in 0..5 {
        total += s.hold(seq, &reply(seq, b"xyz"), usize::MAX).added;
    }
    assert_eq!(s.clear(), total);
    assert!(s.is_empty());
}

proptest! {
    /// Whatever the holds, acks and limits: the byte count is the sum of what is held, the
    /// limits hold, a replayed reply is exactly the one held for that seq, and nothing below
    /// the highest ack is held.
    #[test]
    fn the_ledger_and_the_limits_always_hold(
        steps in proptest::collection::vec((0u64..40, 0usize..300, any::<bool>()), 1..80),
        max_held in 1usize..8,
        max_bytes in 100usize..2000,
    ) {
        let mut s = store(max_held, max_bytes);
        let mut node = 0usize;
        let mut last_ack = 0;
        for (seq, len, is_ack) in steps {
            if is_ack {
                node -= s.ack(seq);
                last_ack = last_ack.max(seq);
            } else {
                let r = reply(seq, &vec![7u8; len]);
                let h = s.hold(seq, &r, 1500usize.saturating_sub(node));
                node = node + h.added - h.freed;
                if h.added > 0 {
                    prop_assert_eq!(s.replay(seq), Replay::Held(r));
                }
            }
            prop_assert_eq!(node, s.bytes());
            prop_assert!(s.bytes() <= max_bytes && s.len() <= max_held);
            prop_assert!(node <= 1500);
            prop_assert!(s.held.keys().all(|k| *k >= last_ack));
        }
    }
}
