//! Proof that the vectors can fail: reference implementations with one deliberate fault each,
//! and the named vectors that must catch it. A fault no vector catches would mean the suite
//! cannot see that class of bug.

use std::sync::Arc;

use seqtun_client::ClientFaults;
use seqtun_conform::builtin::client::{ClientSetup, client_target};
use seqtun_conform::builtin::{start_node_tweaked, start_node_with};
use seqtun_conform::case::{Case, load_dir};
use seqtun_conform::http::Http;
use seqtun_conform::params::profile;
use seqtun_conform::target::features;
use seqtun_conform::verdict::Outcome;
use seqtun_node::{Faults, NodeConfig};

fn cases() -> Vec<Case> {
    load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")).unwrap()
}

fn find<'a>(all: &'a [Case], id: &str) -> &'a Case {
    all.iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `ids` against a node with `faults` and against a healthy one; each must fail on the
/// broken node and pass on the healthy one (so it is the fault that is caught).
pub fn caught_by(faults: Faults, ids: &[&str]) {
    let what = format!("{faults:?}");
    caught_by_node(&what, |cfg| cfg.faults = faults.clone(), ids);
}

/// [`caught_by`] for a node whose settings `tweak` breaks, `what` naming the breakage.
pub fn caught_by_node(what: &str, tweak: impl Fn(&mut NodeConfig), ids: &[&str]) {
    let rt = rt();
    let all = cases();
    let http = Http::new(std::time::Duration::from_secs(60));
    let params = profile("fast").unwrap();
    let broken = rt
        .block_on(start_node_tweaked("mutant", &params, false, tweak))
        .unwrap();
    let healthy = rt
        .block_on(start_node_with(
            "healthy",
            &params,
            false,
            Faults::default(),
        ))
        .unwrap();
    // The broken node claims what a healthy one offers, as a buggy implementation would.
    let mut claimed = broken.target.clone();
    claimed.features = healthy.target.features.clone();
    let (broken_t, healthy_t) = (Arc::new(claimed), Arc::new(healthy.target.clone()));
    for id in ids {
        let case = find(&all, id);
        let bad = rt.block_on(seqtun_conform::node::run_case(case, &broken_t, &http));
        assert!(
            matches!(bad, Outcome::Fail(_)),
            "{id} did not catch {what}: {bad:?}"
        );
        let good = rt.block_on(seqtun_conform::node::run_case(case, &healthy_t, &http));
        assert!(
            matches!(good, Outcome::Pass),
            "{id} fails on a healthy node: {good:?}"
        );
    }
}

#[test]
fn no_seq_echo() {
    caught_by(
        Faults {
            no_seq_echo: true,
            ..Faults::default()
        },
        &["node/seq/hold-later-seq", "node/seq/echo-on-errors"],
    );
}

/// A node whose own body limit sits a byte under the deployed 2 MiB refuses what every client
/// may send (§6.3).
#[test]
fn a_body_limit_under_2_mib() {
    caught_by_node(
        "max_body_bytes = 2 MiB - 1",
        |cfg| cfg.params.max_body_bytes = (2 << 20) - 1,
        &["node/transport/accepts-a-2-mib-body"],
    );
}

#[test]
fn runs_a_batch_without_a_key() {
    caught_by(
        Faults {
            missing_key_runs_ops: true,
            ..Faults::default()
        },
        &["node/auth/missing-key-runs-nothing"],
    );
}

#[test]
fn writes_seq_n_plus_1_before_n() {
    caught_by(
        Faults {
            unordered_writes: true,
            ..Faults::default()
        },
        &["node/seq/hold-later-seq"],
    );
}

#[test]
fn short_reply_lists() {
    caught_by(
        Faults {
            short_replies: true,
            ..Faults::default()
        },
        &["node/transport/unknown-op"],
    );
}

#[test]
fn drains_out_of_seq_order() {
    caught_by(
        Faults {
            unordered_drains: true,
            ..Faults::default()
        },
        &["node/seq/downlink-follows-seq-order"],
    );
}

#[test]
fn no_caps_on_batched_connect_data() {
    caught_by(
        Faults {
            no_caps_on_batched_connect_data: true,
            ..Faults::default()
        },
        &["node/ops/connect-data-caps"],
    );
}

#[test]
fn close_before_data_in_one_batch() {
    caught_by(
        Faults {
            close_before_data: true,
            ..Faults::default()
        },
        &[
            "node/close/data-then-close-seq",
            "node/close/data-then-close-unseqd",
        ],
    );
}

/// The client-side twin of `caught_by`: each vector must fail against the reference client with
/// `faults` and pass against a healthy one.
pub fn client_caught_by(faults: ClientFaults, ids: &[&str]) {
    let rt = rt();
    let all = cases();
    let params = profile("fast").unwrap();
    let target = |faults: ClientFaults| {
        let mut t = client_target(
            "client",
            &params,
            ClientSetup {
                faults,
                ..ClientSetup::default()
            },
        );
        // The broken clients still claim #903, as a buggy implementation would.
        t.features.insert(features::PIPELINE_SEQ.into());
        t
    };
    let (broken, healthy) = (target(faults.clone()), target(ClientFaults::default()));
    for id in ids {
        let case = find(&all, id);
        let bad = rt.block_on(seqtun_conform::client::run_case(case, &broken));
        let Outcome::Fail(failure) = &bad else {
            panic!("{id} did not catch {faults:?}: {bad:?}");
        };
        // The report says what the client sent and how to replay it against a real node.
        assert!(
            failure
                .note
                .as_deref()
                .is_some_and(|n| n.contains("batch(es)"))
                && failure
                    .curl
                    .as_deref()
                    .is_some_and(|c| c.contains("--data-binary '{")),
            "{failure}"
        );
        let good = rt.block_on(seqtun_conform::client::run_case(case, &healthy));
        assert!(
            matches!(good, Outcome::Pass),
            "{id} fails on a healthy client: {good:?}"
        );
    }
}

#[test]
fn client_sends_seq_without_caps() {
    client_caught_by(
        ClientFaults {
            seq_without_caps: true,
            ..ClientFaults::default()
        },
        &[
            "client/pipeline/caps-absent-no-seq",
            "client/pipeline/caps-zero-no-seq",
        ],
    );
}

#[test]
fn client_writes_replies_out_of_order() {
    client_caught_by(
        ClientFaults {
            unordered_delivery: true,
            ..ClientFaults::default()
        },
        &["client/pipeline/reversed-replies-delivered-in-seq-order"],
    );
}

#[test]
fn client_ignores_a_missing_seq() {
    client_caught_by(
        ClientFaults {
            ignore_missing_seq: true,
            ..ClientFaults::default()
        },
        &["client/pipeline/missing-seq-disables-pipelining-for-new-sessions"],
    );
}

/// The deployed rule that delivered one user's downloads to another's apps: `r[i]` goes to op
/// `i` whatever its sid, and a longer `r` is a good batch (§3.1).
#[test]
fn client_maps_replies_by_position_only() {
    client_caught_by(
        ClientFaults {
            positional_replies: true,
            ..ClientFaults::default()
        },
        &[
            "client/batch/extra-leading-entry-fails-the-batch",
            "client/batch/extra-trailing-entry-fails-the-batch",
            "client/batch/swapped-entries-with-equal-seqs-fail-both-sessions",
            "client/batch/foreign-sid-fails-the-session",
        ],
    );
}

#[test]
fn no_caps_on_connect() {
    caught_by(
        Faults {
            no_caps: true,
            ..Faults::default()
        },
        &[
            "node/ops/connect-caps",
            "node/single/caps-on-single-connects",
        ],
    );
}

#[test]
fn client_ignores_the_body_limit() {
    client_caught_by(
        ClientFaults {
            ignore_body_limit: true,
            ..ClientFaults::default()
        },
        &[
            "client/batch/bodies-stay-under-2-mib",
            "client/batch/recovers-from-413-without-losing-bytes",
        ],
    );
}

/// Timing cases a node could pass without the behaviour they check: a node that never lets a
/// ready session cut a long-poll short would pass them only if the case never made it matter.
#[test]
fn long_polls_that_ignore_readiness() {
    caught_by(
        Faults {
            long_poll_ignores_readiness: true,
            ..Faults::default()
        },
        &[
            "node/longpoll/poll-woken-by-sibling-session",
            "node/longpoll/tcp-ready-short-circuits-udp",
            "node/longpoll/push-wakes-long-poll",
            "node/seq/idle-poll-woken-by-sibling",
        ],
    );
}

#[test]
fn an_active_op_woken_by_its_siblings() {
    caught_by(
        Faults {
            active_op_waits_on_batch: true,
            ..Faults::default()
        },
        &["node/seq/active-op-ignores-sibling-bytes"],
    );
}

/// The reaping cases probe late enough that a node ignoring polls has reaped the session.
#[test]
fn tcp_polls_that_do_not_refresh_idleness() {
    caught_by(
        Faults {
            tcp_polls_do_not_refresh: true,
            ..Faults::default()
        },
        &[
            "node/reaping/idle-tcp-reaped-polled-survives",
            "node/reaping/seq-polled-session-survives",
        ],
    );
}

/// A replay-safe node that answers a retransmit with a fresh drain instead of the held reply:
/// the downlink the first reply carried is lost (§7.10).
#[test]
fn replays_a_fresh_drain_instead_of_the_held_reply() {
    caught_by(
        Faults {
            replays_fresh_drain: true,
            ..Faults::default()
        },
        &["node/replay/retransmit-gets-held-reply-writes-nothing"],
    );
}

/// A replay-safe node that runs a retransmit again: the upload is written twice (§7.10).
#[test]
fn runs_a_retransmit_twice() {
    caught_by(
        Faults {
            reruns_retransmits: true,
            ..Faults::default()
        },
        &["node/replay/retransmit-gets-held-reply-writes-nothing"],
    );
}

/// A replay-safe node that holds replies for sessions that never sent `ack`: an old client's
/// repeated seq is answered as a retransmit instead of §7.5's refusal (§7.10).
#[test]
fn holds_replies_without_ack() {
    caught_by(
        Faults {
            holds_without_ack: true,
            ..Faults::default()
        },
        &["node/replay/without-ack-nothing-is-replayed"],
    );
}

/// A node that holds one reply more, or one fewer, per session than its target parameter says
/// (§7.10): the limit's vector fails on each side of the edge.
#[test]
fn holds_replies_past_the_session_limit_or_short_of_it() {
    let held = profile("fast").unwrap()["replay_max_held"] as usize;
    for (what, n) in [("one more", held + 1), ("one fewer", held - 1)] {
        caught_by_node(
            &format!("replay_max_held {what}: {n}"),
            |cfg| cfg.params.replay_max_held = n,
            &["node/replay/held-replies-stop-at-the-session-limit"],
        );
    }
}

/// A client that sends a failed op again under a new seq: the node runs it as new bytes (a
/// write twice when the first copy ran) and a lost reply stays lost (§7.10).
#[test]
fn client_retries_with_a_new_seq() {
    client_caught_by(
        ClientFaults {
            retry_with_new_seq: true,
            ..ClientFaults::default()
        },
        &["client/replay/failed-batch-resends-same-seq-and-payload"],
    );
}

/// A node that claims replay-safe seq and holds nothing: no caps bit 1, a released-looking
/// refusal without its code, and §7.5's "in progress" for a waiting copy (§7.10).
#[test]
fn claims_replay_safety_without_holding_replies() {
    caught_by(
        Faults {
            no_replay_safe: true,
            ..Faults::default()
        },
        &[
            "node/replay/connect-caps-bit-1",
            "node/replay/acknowledged-reply-released",
            "node/replay/copy-of-waiting-seq-gets-original-reply",
        ],
    );
}

/// A client that retries where the node kept nothing (caps bit 0 alone, §7.10).
#[test]
fn client_retries_without_caps_bit_1() {
    client_caught_by(
        ClientFaults {
            retry_without_bit_1: true,
            ..ClientFaults::default()
        },
        &["client/replay/caps-bit-0-only-never-retries"],
    );
}

/// A client that sends a connect of a failed batch again: a second connect would open a second
/// session at the node (§7.10).
#[test]
fn client_retries_a_connect() {
    client_caught_by(
        ClientFaults {
            retry_connects: true,
            ..ClientFaults::default()
        },
        &["client/replay/connect-is-never-retried"],
    );
}

/// A client that never stops resending a failed op (§7.10).
#[test]
fn client_retries_beyond_the_budget() {
    client_caught_by(
        ClientFaults {
            retry_beyond_budget: true,
            ..ClientFaults::default()
        },
        &["client/replay/stops-at-the-retry-budget"],
    );
}
