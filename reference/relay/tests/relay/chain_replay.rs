//! Replay-safe seq through seeded faults (§7.10): whole transfers through the chain (app →
//! client → relay with faults drawn from rates → node → echo origin), bytes checked as they
//! arrive.
//!
//! Against a replay-safe node every transfer must complete: a lost request, a lost reply, a
//! 5xx, the decoy page or a short reply list only makes the client send the same ops again.
//! Against a #903 node (no `caps` bit 1) nothing is retried, so transfers may end early, but
//! never with a wrong byte and never by hanging. An open is never retried by the client (a
//! second connect would open a second session): an app whose open was refused opens again, as a
//! browser does, and the refusals are counted apart from lost sessions.

use std::sync::Arc;
use std::time::Duration;

use seqtun_relay::{FaultPlan, FaultRates};

use crate::e2e::*;

const SEED: u64 = 20_261_207;
/// Opens an app tries before a transfer counts as not attempted.
const OPEN_TRIES: usize = 8;
/// Ops and drains of this size make a transfer take many relay calls, so the rates deal many
/// faults to each transfer.
const OP_BYTES: usize = 256 << 10;
/// Liveness bound for one transfer, retries and backoffs included.
const TRANSFER_LIMIT: Duration = Duration::from_secs(240);

/// The fault kinds a replay-safe session must survive, by the relay's names. `strip_unknown`
/// turns pipelining off (§7.2), and rewritten reply lists have their own test.
pub const KINDS: [&str; 7] = [
    "drop_request",
    "drop_reply",
    "duplicate",
    "hold_back",
    "decoy",
    "server_error",
    "short_reply",
];

/// `rate` for one kind, or spread evenly over all of them for `"mixed"`.
pub fn rates(kind: &str, rate: f64) -> FaultRates {
    let mut r = FaultRates::default();
    let each = if kind == "mixed" {
        rate / KINDS.len() as f64
    } else {
        0.0
    };
    let slots: [(&str, &mut f64); 7] = [
        ("drop_request", &mut r.drop_request),
        ("drop_reply", &mut r.drop_reply),
        ("duplicate", &mut r.duplicate),
        ("hold_back", &mut r.hold_back),
        ("decoy", &mut r.decoy),
        ("server_error", &mut r.server_error),
        ("short_reply", &mut r.short_reply),
    ];
    for (name, slot) in slots {
        *slot = if name == kind { rate } else { each };
    }
    r
}

/// What one run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub attempted: usize,
    pub completed: usize,
    pub lost: usize,
    pub refused_opens: usize,
    /// Opens granted early whose connect was lost; the app opened again.
    pub failed_opens: usize,
    pub retried_ops: u64,
    pub calls: u64,
    pub faults: u64,
}

/// Runs `transfers` echo transfers of `bytes` each way, one after another, through a chain
/// whose relay injects `rates`; bytes are checked as they arrive (a wrong byte panics).
pub async fn run(rates: FaultRates, replay_safe: bool, transfers: usize, bytes: usize) -> Outcome {
    let mut plan = FaultPlan {
        rates,
        ..FaultPlan::new(SEED)
    };
    plan.defaults.hold_max = Duration::from_millis(200);
    let t = e2e(Setup {
        faults: plan,
        replay_safe,
        max_op_bytes: Some(OP_BYTES),
        node_drain_max: Some(OP_BYTES),
        ..Setup::default()
    })
    .await;
    let echo = EchoOrigin::start().await;
    let mut out = Outcome::default();
    for id in 0..transfers {
        let data = Arc::new(stream_bytes(id as u64, bytes));
        let what = format!("transfer {id} (replay-safe {replay_safe})");
        match transfer(&t, echo.addr, data, &what, &mut out).await {
            Some(true) => out.completed += 1,
            Some(false) => out.lost += 1,
            None => continue,
        }
        out.attempted += 1;
    }
    let c = t.client.stats.snapshot();
    let r = t.relay.stats();
    out.retried_ops = c.retried_ops;
    out.calls = r.calls;
    out.faults = r.faults.values().sum();
    out
}

/// One transfer as an app makes it: an open the client refused, or one that failed before a
/// byte came back (the connect's call was lost: an optimistic open already granted it, §6.7),
/// is opened again, up to [`OPEN_TRIES`] times. `None`: never opened; else whether every byte
/// came back.
async fn transfer(
    t: &E2e,
    origin: std::net::SocketAddr,
    data: Arc<Vec<u8>>,
    what: &str,
    out: &mut Outcome,
) -> Option<bool> {
    for _ in 0..OPEN_TRIES {
        let failed_opens = t.client.stats.snapshot().open_failures;
        let Ok(s) = t.try_open(origin).await else {
            out.refused_opens += 1;
            continue;
        };
        let seen = echo_streaming_within(s, Arc::clone(&data), what, TRANSFER_LIMIT).await;
        let open_failed = t.client.stats.snapshot().open_failures > failed_opens;
        if !seen.complete() && seen.got == 0 && open_failed {
            out.failed_opens += 1;
            continue;
        }
        return Some(seen.complete());
    }
    None
}

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_faults_at_5_and_20_percent_lose_no_replay_safe_transfer() {
    for rate in [0.05, 0.20] {
        let o = run(rates("mixed", rate), true, 1, 64 * MIB).await;
        eprintln!("mixed {rate}: {o:?}");
        assert_eq!(
            (o.attempted, o.completed, o.lost),
            (1, 1, 0),
            "{rate}: {o:?}"
        );
        assert!(
            o.faults > 0 && o.retried_ops > 0,
            "{rate}: nothing was survived: {o:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_alone_at_20_percent_loses_no_replay_safe_transfer() {
    for kind in KINDS {
        let o = run(rates(kind, 0.20), true, 2, 4 * MIB).await;
        eprintln!("{kind} 0.2: {o:?}");
        assert_eq!((o.completed, o.lost), (o.attempted, 0), "{kind}: {o:?}");
        assert!(o.attempted > 0 && o.faults > 0, "{kind}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_node_without_bit_1_transfers_end_cleanly() {
    let o = run(rates("mixed", 0.20), false, 3, 4 * MIB).await;
    eprintln!("caps 1, mixed 0.2: {o:?}");
    assert_eq!(
        o.retried_ops, 0,
        "nothing is retried without caps bit 1: {o:?}"
    );
    assert_eq!(o.completed + o.lost, o.attempted);
    assert!(o.lost > 0, "20% faults should end some transfer: {o:?}");
}

/// The fault table of docs/RELIABILITY.md: each kind alone and all mixed, at 5 % and 20 % of
/// calls, one 64 MiB transfer each way per cell, against a replay-safe node and a #903 node.
/// About ten minutes on two cores, so it runs on demand:
/// `cargo test -p seqtun-relay --test relay -- --ignored chain_replay::fault_table --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "ten minutes; prints the fault table of docs/RELIABILITY.md"]
async fn fault_table() {
    println!(
        "| faults | rate | node | attempted | completed | wrong bytes | lost | ops sent again | faults dealt / calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for kind in KINDS.iter().copied().chain(["mixed"]) {
        for rate in [0.05, 0.20] {
            for replay_safe in [true, false] {
                let o = run(rates(kind, rate), replay_safe, 1, 64 * MIB).await;
                let node = if replay_safe { "caps 3" } else { "caps 1" };
                // A wrong byte panics in read_checked, so a printed row has none.
                println!(
                    "| {kind} | {:.0} % | {node} | {} | {} | 0 | {} | {} | {} / {} |",
                    rate * 100.0,
                    o.attempted,
                    o.completed,
                    o.lost,
                    o.retried_ops,
                    o.faults,
                    o.calls
                );
            }
        }
    }
}
