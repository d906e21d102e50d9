//! The stand-ins for deployed nodes (`seqtun_node::Deployed`) against the vectors: each
//! divergence they reproduce is caught by the case written for it, and those cases are graded
//! as the field requires. A deployed node may fail a `should` case that pins a seqtun
//! improvement, never a `must` case over behaviour deployed nodes never had.

use std::sync::Arc;

use seqtun_conform::builtin::start_node_with;
use seqtun_conform::case::{Case, Level, load_dir};
use seqtun_conform::http::Http;
use seqtun_conform::params::profile;
use seqtun_conform::verdict::Outcome;
use seqtun_node::{Deployed, Faults, NodeConfig};

use crate::mutants::caught_by;

/// One test per deployed fault: `fault => [cases that must catch it]`.
macro_rules! caught {
    ($($fault:ident => [$($id:literal),+ $(,)?];)+) => {$(
        #[test]
        fn $fault() {
            caught_by(
                Faults {
                    $fault: true,
                    ..Faults::default()
                },
                &[$($id),+],
            );
        }
    )+};
}

caught! {
    deployed_body_limit => ["node/transport/accepts-a-4-mib-body"];
    deployed_http_surface => ["node/transport/unknown-path-nginx-404"];
    missing_key_is_bad_json => ["node/auth/missing-key-nginx-404-runs-nothing"];
    no_seq_on_missing_sid => ["node/seq/echo-on-missing-sid"];
    no_poll_preemption => [
        "node/seq/poll-preemption",
        "node/seq/poll-answers-at-once-when-later-seq-waits",
    ];
    // The case whose old timing let exactly this node pass (wire-reference E-18).
    udp_polls_do_not_refresh => ["node/reaping/udp-polls-keep-session-alive"];
    bad_base64_keeps_seq => ["node/seq/bad-base64-consumes-seq"];
    whole_batch_type_errors => ["node/transport/malformed-op-alone"];
    single_ignores_bad_base64 => ["node/single/bad-base64-reported"];
    budget_gap => ["node/drain/batch-budget-placeholder-keeps-bytes"];
}

fn cases() -> Vec<Case> {
    load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")).unwrap()
}

/// The cases the field run graded wrongly, against a NODE-903-like stand-in (on the fast
/// profile's timing): the seqtun halves fail as `should`, the base-protocol halves pass.
#[test]
fn a_node_903_like_node_fails_only_should_cases_over_seqtun_behaviour() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let params = profile("fast").unwrap();
    let faults = {
        let mut cfg = NodeConfig::new("k");
        Deployed::Node903.apply(&mut cfg);
        cfg.faults
    };
    let node = rt
        .block_on(start_node_with("node-903-like", &params, false, faults))
        .unwrap();
    let target = Arc::new(node.target.clone());
    let http = Http::new(std::time::Duration::from_secs(60));
    let all = cases();
    let run = |id: &str| {
        let case = all.iter().find(|c| c.id == id).unwrap();
        let outcome = rt.block_on(seqtun_conform::node::run_case(case, &target, &http));
        (case.file.level, outcome)
    };
    for id in [
        "node/auth/missing-key-nginx-404-runs-nothing",
        "node/transport/unknown-path-nginx-404",
        "node/seq/echo-on-missing-sid",
        "node/reaping/udp-polls-keep-session-alive",
        "node/transport/accepts-a-4-mib-body",
    ] {
        let (level, outcome) = run(id);
        assert!(matches!(outcome, Outcome::Fail(_)), "{id}: {outcome:?}");
        assert_eq!(level, Level::Should, "{id} must not be a must");
    }
    for id in [
        "node/auth/missing-key-runs-nothing",
        "node/seq/echo-on-errors",
        "node/transport/accepts-a-2-mib-body",
        "node/auth/wrong-key-nginx-404-runs-nothing",
        "node/transport/health",
    ] {
        let (level, outcome) = run(id);
        assert!(matches!(outcome, Outcome::Pass), "{id}: {outcome:?}");
        assert_eq!(level, Level::Must);
    }
}
