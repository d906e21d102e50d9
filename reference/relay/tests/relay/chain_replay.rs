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
    if kind == "mixed" {
        for k in KINDS {
            r.set(k, rate / KINDS.len() as f64);
        }
    } else {
        assert!(r.set(kind, rate), "no fault is named {kind}");
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
/// Cells of the fault table run at once: each spends most of its time waiting on relay latency
/// and retry backoff, so several share the two cores well.
const CELLS_AT_ONCE: usize = 16;

/// Faults that fail a relay call as a whole; `duplicate` and `hold_back` only delay or repeat
/// one, which the seq gate absorbs on any #903 node.
const FAILING: [&str; 5] = [
    "drop_request",
    "drop_reply",
    "decoy",
    "server_error",
    "short_reply",
];

/// One row of the fault table.
#[derive(Debug, Clone, Copy)]
struct Cell {
    kind: &'static str,
    rate: f64,
    replay_safe: bool,
}

/// Each kind alone and all mixed, at 5 % and 20 % of calls, against a replay-safe node and a
/// #903 node: one 64 MiB echo transfer each way per cell.
async fn fault_table() -> Vec<(Cell, Outcome)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(CELLS_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    let mut cells = Vec::new();
    for kind in KINDS.iter().copied().chain(["mixed"]) {
        for rate in [0.05, 0.20] {
            for replay_safe in [true, false] {
                cells.push(Cell {
                    kind,
                    rate,
                    replay_safe,
                });
            }
        }
    }
    for (i, cell) in cells.iter().copied().enumerate() {
        let sem = Arc::clone(&sem);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            let o = run(rates(cell.kind, cell.rate), cell.replay_safe, 1, 64 * MIB).await;
            (i, o)
        });
    }
    let mut rows: Vec<Option<Outcome>> = vec![None; cells.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, o) = done.expect("a cell panicked (a wrong byte, or a transfer hung)");
        rows[i] = Some(o);
    }
    cells.into_iter().zip(rows.into_iter().flatten()).collect()
}

/// The table as docs/RELIABILITY.md shows it. A wrong byte panics in the transfer, so every
/// printed row has none.
fn print_table(rows: &[(Cell, Outcome)]) {
    println!(
        "| faults | rate | node | attempted | completed | wrong bytes | lost | ops sent again | faults dealt / calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (c, o) in rows {
        let node = if c.replay_safe { "caps 3" } else { "caps 1" };
        println!(
            "| {} | {:.0} % | {node} | {} | {} | 0 | {} | {} | {} / {} |",
            c.kind,
            c.rate * 100.0,
            o.attempted,
            o.completed,
            o.lost,
            o.retried_ops,
            o.faults,
            o.calls
        );
    }
}

/// The fault table of docs/RELIABILITY.md (print it with `--nocapture`). Replay-safe sessions
/// lose nothing under any kind at 5 % or 20 %; against the #903 node nothing is sent again, a
/// call-failing fault ends its transfer cleanly, and repeats and delays cost nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_and_all_mixed_at_5_and_20_percent_over_64_mib_each_way() {
    let rows = fault_table().await;
    print_table(&rows);
    for (c, o) in &rows {
        let row = format!("{c:?}: {o:?}");
        assert_eq!(o.attempted, 1, "{row}");
        assert!(o.faults > 0, "no fault was dealt: {row}");
        let fails_calls = c.kind == "mixed" || FAILING.contains(&c.kind);
        if c.replay_safe {
            assert_eq!((o.completed, o.lost), (1, 0), "{row}");
            assert_eq!(o.retried_ops > 0, fails_calls, "{row}");
        } else {
            assert_eq!(
                o.retried_ops, 0,
                "nothing is retried without caps bit 1: {row}"
            );
            let want = if fails_calls { (0, 1) } else { (1, 0) };
            assert_eq!((o.completed, o.lost), want, "{row}");
        }
    }
}
