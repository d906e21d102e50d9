//! Each relay fault hitting a live session of the whole chain (app → client → relay → node →
//! echo origin), placed by a script on a call that carries the session's ops.
//!
//! Against a node without replay-safe seq (`caps` 1) the client never sends an op twice (a
//! retried write could reach the origin twice), so most faults must kill the session they hit;
//! duplicates and held-back calls must not, because the node's seq gate absorbs them. Against
//! a replay-safe node (`caps` 3, §7.10) every one of those faults is survived: the failed op
//! goes again and gets the held reply or runs once. Either way the app and the origin may only
//! ever see a prefix of what the other side sent, the stream must end rather than hang, and the
//! next session must work.

use std::sync::Arc;

use seqtun_relay::{Action, DuplicateReply, FaultPlan, Source};

use crate::e2e::*;

/// A ping-pong session sends this many pieces, so it needs at least this many relay calls.
const PIECES: usize = 12;
const PIECE: usize = 32 << 10;
/// A streaming session pushes this much at once in ops of at most [`STREAMED_OP`] bytes, so
/// two writes are in flight together and the stream needs dozens of calls.
const STREAMED: usize = 768 << 10;
const STREAMED_OP: usize = 64 << 10;
/// The fault hits this call: the session opened at call 0 and bytes have flowed since.
const FAULT_AT: usize = 4;

/// What a fault must do to the session it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The stream completes: the fault is absorbed.
    Survives,
    /// The batch fails at the client; the session ends early.
    FailsBatch,
    /// The batch fails at the client, its ops go again (§7.10), and the stream completes.
    Retried,
    /// The node refuses the op (duplicate seq); the session ends early.
    NodeRefuses,
    /// A reply comes back without `seq`: the session ends and pipelining is switched off.
    Downgrades,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Traffic {
    PingPong,
    Streaming,
}

/// Runs one session with `action` on call [`FAULT_AT`], checks what the app and the origin saw,
/// then checks that a new session carries its bytes.
async fn fault_hits_session(
    (legacy, replay_safe): (bool, bool),
    traffic: Traffic,
    action: Action,
    expect: Expect,
) {
    let kind = action.kind();
    let what = format!("{kind} (legacy {legacy}, replay-safe {replay_safe}, {traffic:?})");
    let mut script = vec![Action::Pass; FAULT_AT];
    script.push(action);
    let t = e2e(Setup {
        legacy,
        faults: FaultPlan {
            source: Source::Script(script),
            ..FaultPlan::new(7)
        },
        max_op_bytes: (traffic == Traffic::Streaming).then_some(STREAMED_OP),
        replay_safe,
        ..Setup::default()
    })
    .await;
    let echo = EchoOrigin::start().await;
    let (data, seen) = match traffic {
        Traffic::PingPong => {
            let data = stream_bytes(1, PIECES * PIECE);
            let seen = echo_ping_pong(t.open(echo.addr).await, &data, PIECE, &what).await;
            (data, seen)
        }
        Traffic::Streaming => {
            let data = Arc::new(stream_bytes(1, STREAMED));
            let seen = echo_streaming(t.open(echo.addr).await, Arc::clone(&data), &what).await;
            (Arc::unwrap_or_clone(data), seen)
        }
    };
    let r = t.relay.stats();
    assert_eq!(
        r.fault(kind),
        1,
        "{what}: the fault was not injected: {r:?}"
    );
    let c = t.client.stats.snapshot();
    match expect {
        Expect::Survives | Expect::Retried => assert!(seen.complete(), "{what}: {seen:?} {c}"),
        _ => assert!(
            !seen.complete() && seen.got < data.len(),
            "{what}: the session should have ended early: {seen:?} {c}"
        ),
    }
    let failed = matches!(expect, Expect::FailsBatch | Expect::Retried);
    assert_eq!(c.failed_batches, u64::from(failed), "{what}: {c}");
    let retried = expect == Expect::Retried;
    assert_eq!(c.retried_ops > 0, retried, "{what}: {c}");
    assert_eq!(c.replay_safe_sessions > 0, replay_safe, "{what}: {c}");
    let downgraded = expect == Expect::Downgrades;
    assert_eq!(t.client.pipelining_disabled(), downgraded, "{what}: {c}");
    assert_eq!(c.downgrades, u64::from(downgraded), "{what}: {c}");

    let after = stream_bytes(2, 2 * PIECE);
    let again = echo_ping_pong(t.open(echo.addr).await, &after, PIECE, &what).await;
    assert!(
        again.complete(),
        "{what}: the next session failed: {again:?}"
    );
    echo.assert_received_prefixes(&[&data, &after]);
    let c = t.client.stats.snapshot();
    let legacy_sessions = if legacy { 2 } else { u64::from(downgraded) };
    assert_eq!(c.legacy_sessions, legacy_sessions, "{what}: {c}");
}

const HOLD: Action = Action::HoldBack {
    after: 1,
    max_ms: 300,
};
const DUP_FIRST: Action = Action::Duplicate {
    reply: DuplicateReply::First,
};
const DUP_SECOND: Action = Action::Duplicate {
    reply: DuplicateReply::Second,
};
const SERVER_ERROR: Action = Action::ServerError { status: 502 };
const SHORT: Action = Action::ShortReply { keep: None };
const EXTRA: Action = Action::ExtraEntry { at: None };

/// One test per `name: action => expect`, each running [`fault_hits_session`] with the
/// module's node mode and traffic.
macro_rules! fault_cases {
    ($modes:expr, $traffic:expr; $($name:ident: $action:expr => $expect:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                fault_hits_session($modes, $traffic, $action, Expect::$expect).await;
            }
        )*
    };
}

mod pipelined_ping_pong {
    use super::*;

    fault_cases! {
        (false, false), Traffic::PingPong;
        drop_request: Action::DropRequest => FailsBatch,
        drop_reply: Action::DropReply => FailsBatch,
        duplicate_first_reply: DUP_FIRST => Survives,
        duplicate_second_reply: DUP_SECOND => NodeRefuses,
        hold_back: HOLD => Survives,
        decoy: Action::Decoy => FailsBatch,
        server_error: SERVER_ERROR => FailsBatch,
        short_reply: SHORT => FailsBatch,
        extra_entry: EXTRA => FailsBatch,
        strip_unknown: Action::StripUnknown => Downgrades,
    }
}

mod pipelined_streaming {
    use super::*;

    fault_cases! {
        (false, false), Traffic::Streaming;
        drop_request: Action::DropRequest => FailsBatch,
        drop_reply: Action::DropReply => FailsBatch,
        duplicate_first_reply: DUP_FIRST => Survives,
        hold_back: HOLD => Survives,
        short_reply: SHORT => FailsBatch,
        extra_entry: EXTRA => FailsBatch,
        strip_unknown: Action::StripUnknown => Downgrades,
    }
}

/// Legacy sessions have one op in flight and no seq: a duplicated request writes twice there by
/// design (docs/PROTOCOL.md §1.6), so duplicates are not among these cases.
mod legacy_ping_pong {
    use super::*;

    fault_cases! {
        (true, false), Traffic::PingPong;
        drop_request: Action::DropRequest => FailsBatch,
        drop_reply: Action::DropReply => FailsBatch,
        hold_back: HOLD => Survives,
        decoy: Action::Decoy => FailsBatch,
        server_error: SERVER_ERROR => FailsBatch,
        short_reply: SHORT => FailsBatch,
        extra_entry: EXTRA => FailsBatch,
        strip_unknown_changes_nothing: Action::StripUnknown => Survives,
    }
}

/// Replay-safe sessions (§7.10): every fault that killed a session above is survived, and a
/// duplicated request's second copy gets the held reply instead of a refusal.
mod replay_safe_ping_pong {
    use super::*;

    fault_cases! {
        (false, true), Traffic::PingPong;
        drop_request: Action::DropRequest => Retried,
        drop_reply: Action::DropReply => Retried,
        duplicate_first_reply: DUP_FIRST => Survives,
        duplicate_second_reply: DUP_SECOND => Survives,
        hold_back: HOLD => Survives,
        decoy: Action::Decoy => Retried,
        server_error: SERVER_ERROR => Retried,
        short_reply: SHORT => Retried,
        extra_entry: EXTRA => Retried,
    }
}

mod replay_safe_streaming {
    use super::*;

    fault_cases! {
        (false, true), Traffic::Streaming;
        drop_request: Action::DropRequest => Retried,
        drop_reply: Action::DropReply => Retried,
        duplicate_second_reply: DUP_SECOND => Survives,
        short_reply: SHORT => Retried,
        extra_entry: EXTRA => Retried,
    }
}
