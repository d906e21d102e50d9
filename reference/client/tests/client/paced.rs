//! Pacing on tokio's paused clock (§6.3, §7.8): when each op reaches a scripted node, in
//! virtual time. The clock only moves when every task waits for a timer, so these instants
//! are the client's decisions, not the machine's speed.

use std::time::Duration;

use seqtun_wire::{CAPS_PIPELINE_SEQ, CAPS_POLL_PREEMPTION};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

use crate::common::*;
use crate::scripted::{SID, answer, data_ops, next_data, open, setup};

const MS: fn(u64) -> Duration = Duration::from_millis;
const QUIET: Duration = Duration::from_millis(300);
/// `caps` of a node that orders seq'd ops and preempts parked polls (bits 0 and 2, §7.7).
const PREEMPTS: u32 = CAPS_PIPELINE_SEQ | CAPS_POLL_PREEMPTION;

/// Deployed coalescing (200 ms step, 1000 ms at most), 5 ms for prompt ops, depth `depth`.
async fn paced(depth: usize) -> (Scripted, seqtun_client::ClientHandle) {
    setup(|cfg| {
        cfg.params.coalesce_step = MS(200);
        cfg.params.coalesce_max = MS(1000);
        cfg.params.coalesce_prompt = MS(5);
        cfg.params.depth = depth;
    })
    .await
}

fn seqs(asked: &Asked) -> Vec<u64> {
    data_ops(asked)
        .iter()
        .filter_map(|op| op["seq"].as_u64())
        .collect()
}

fn is_poll(op: &Value) -> bool {
    op.get("d").is_none()
}

#[tokio::test(start_paused = true)]
async fn an_idle_poll_waits_for_company_and_a_download_does_not() {
    let (mut node, c) = paced(4).await;
    let _app = open(&mut node, &c, Some(PREEMPTS)).await;
    let t0 = Instant::now();
    let first = next_data(&mut node).await;
    let waited = t0.elapsed();
    assert!(
        (MS(220)..MS(225)).contains(&waited),
        "read ladder 20 ms, then the 200 ms step: {waited:?}"
    );
    assert_eq!(seqs(&first), [0]);
    answer(first, |_| vec![7; 100]);
    // A poll answered with bytes earns a second one; each goes in a call of its own.
    let t1 = Instant::now();
    let a = next_data(&mut node).await;
    let b = next_data(&mut node).await;
    assert!(t1.elapsed() <= MS(6), "prompt: {:?}", t1.elapsed());
    assert_eq!((seqs(&a), seqs(&b)), (vec![1], vec![2]));
    // Both full again: four polls out now (depth 4), in four calls.
    answer(a, |_| vec![7; 100]);
    answer(b, |_| vec![7; 100]);
    let mut out = Vec::new();
    for _ in 0..4 {
        let asked = next_data(&mut node).await;
        assert_eq!(data_ops(&asked).len(), 1, "one poll of a session per call");
        out.push(asked);
    }
    assert!(t1.elapsed() <= MS(12), "{:?}", t1.elapsed());
    let got: Vec<u64> = out.iter().flat_map(seqs).collect();
    assert_eq!(got, [3, 4, 5, 6]);
    assert!(node.maybe_next(MS(500)).await.is_none(), "depth reached");
    // The download stops: an empty reply drops the session back to one poll at a time.
    for asked in out {
        answer(asked, |_| Vec::new());
    }
    let t2 = Instant::now();
    let idle = next_data(&mut node).await;
    assert!(t2.elapsed() >= MS(200), "idle again: {:?}", t2.elapsed());
    assert_eq!(seqs(&idle), [7]);
    assert!(
        node.maybe_next(MS(3000)).await.is_none(),
        "one idle poll at a time"
    );
}

/// Real time: the app's socket must be read while a poll timer is pending, which the paused
/// clock does not model (it jumps to the timer first).
#[tokio::test]
async fn app_bytes_go_even_beside_a_full_set_of_polls() {
    let (mut node, c) = paced(2).await;
    let mut app = open(&mut node, &c, Some(PREEMPTS)).await;
    let first = next_data(&mut node).await;
    answer(first, |_| vec![1; 10]);
    let a = next_data(&mut node).await;
    let b = next_data(&mut node).await;
    assert!(data_ops(&a).iter().chain(&data_ops(&b)).all(is_poll));
    // Two polls out at depth 2: a write still goes (the node preempts the polls).
    app.write_all(b"GET /").await.unwrap();
    let w = next_data(&mut node).await;
    let op = &data_ops(&w)[0];
    assert_eq!(
        (op["seq"].as_u64(), decode_d(op)),
        (Some(3), b"GET /".to_vec())
    );
    app.write_all(b"more").await.unwrap();
    assert!(
        node.maybe_next(QUIET).await.is_none(),
        "one write beyond the polls, no more"
    );
    // A poll's answer leaves the write and a poll out: still at depth.
    answer(a, |_| Vec::new());
    assert!(node.maybe_next(QUIET).await.is_none());
    // (The first write of a process is also unproven until answered, §6.3.)
    answer(b, |_| Vec::new());
    answer(w, |_| Vec::new());
    let next = next_data(&mut node).await;
    assert_eq!(decode_d(&data_ops(&next)[0]), b"more");
    assert_eq!(data_ops(&next)[0]["sid"], SID);
}

#[tokio::test(start_paused = true)]
async fn without_preemption_a_download_keeps_one_poll() {
    let (mut node, c) = paced(4).await;
    let _app = open(&mut node, &c, Some(1)).await;
    for seq in 0..4 {
        let asked = next_data(&mut node).await;
        assert_eq!(seqs(&asked), [seq]);
        assert!(
            node.maybe_next(MS(500)).await.is_none(),
            "caps 1: one poll at a time, however full the replies"
        );
        answer(asked, |_| vec![7; 100]);
    }
}
