//! Proof that the vectors can fail: reference implementations with one deliberate fault each,
//! and the named vectors that must catch it. A fault no vector catches would mean the suite
//! cannot see that class of bug.

use std::sync::Arc;

use seqtun_conform::builtin::start_node_with;
use seqtun_conform::case::{Case, load_dir};
use seqtun_conform::http::Http;
use seqtun_conform::params::profile;
use seqtun_conform::verdict::Outcome;
use seqtun_node::Faults;

fn cases() -> Vec<Case> {
    load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")).unwrap()
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
fn caught_by(faults: Faults, ids: &[&str]) {
    let rt = rt();
    let all = cases();
    let http = Http::new(std::time::Duration::from_secs(60));
    let params = profile("fast").unwrap();
    let broken = rt
        .block_on(start_node_with("mutant", &params, false, faults.clone()))
        .unwrap();
    let healthy = rt
        .block_on(start_node_with(
            "healthy",
            &params,
            false,
            Faults::default(),
        ))
        .unwrap();
    let (broken_t, healthy_t) = (
        Arc::new(broken.target.clone()),
        Arc::new(healthy.target.clone()),
    );
    for id in ids {
        let case = all
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("no vector {id}"));
        let bad = rt.block_on(seqtun_conform::node::run_case(case, &broken_t, &http));
        assert!(
            matches!(bad, Outcome::Fail(_)),
            "{id} did not catch {faults:?}: {bad:?}"
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
        &["node/seq/hold-later-seq"],
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
