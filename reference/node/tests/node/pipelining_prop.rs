//! Random interleavings of seq'd ops from several sessions, spread over concurrent batches in
//! random order: every upstream must see exactly its bytes in order, and every session's
//! downlink, read in seq order, must be exactly its echo (§7.4).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

#[derive(Debug, Clone)]
struct Case {
    /// Per session, the chunks it writes (one seq'd op each).
    sessions: Vec<Vec<Vec<u8>>>,
    /// For every op (session, seq) in a fixed enumeration: which batch carries it.
    batch_of: Vec<usize>,
    /// Order in which the batches are fired, and a shuffle of ops inside each.
    fire_order: Vec<usize>,
    inner_shuffle: Vec<u32>,
}

fn case() -> impl Strategy<Value = Case> {
    let chunk = proptest::collection::vec(any::<u8>(), 1..48);
    let session = proptest::collection::vec(chunk, 1..6);
    (proptest::collection::vec(session, 1..4), 1usize..5).prop_flat_map(|(sessions, batches)| {
        let ops: usize = sessions.iter().map(Vec::len).sum();
        (
            Just(sessions),
            proptest::collection::vec(0..batches, ops),
            Just((0..batches).collect::<Vec<_>>()).prop_shuffle(),
            proptest::collection::vec(any::<u32>(), ops),
        )
            .prop_map(|(sessions, batch_of, fire_order, inner_shuffle)| Case {
                sessions,
                batch_of,
                fire_order,
                inner_shuffle,
            })
    })
}

/// Echoes and records what it received.
async fn recording_echo(log: Arc<Mutex<Vec<u8>>>) -> std::net::SocketAddr {
    server(move |mut s| {
        let log = Arc::clone(&log);
        async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(k) = s.read(&mut buf).await {
                if k == 0 {
                    break;
                }
                log.lock().unwrap().extend_from_slice(&buf[..k]);
                if s.write_all(&buf[..k]).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}

async fn check(n: &Arc<TestNode>, case: Case) -> Result<(), TestCaseError> {
    let mut sids = Vec::new();
    let mut logs = Vec::new();
    for _ in &case.sessions {
        let log = Arc::new(Mutex::new(Vec::new()));
        let up = recording_echo(Arc::clone(&log)).await;
        sids.push(n.connect(up).await);
        logs.push(log);
    }
    // Enumerate ops, assign them to batches.
    let mut batches: Vec<Vec<(u32, Value)>> = vec![Vec::new(); case.fire_order.len()];
    let mut k = 0;
    for (si, chunks) in case.sessions.iter().enumerate() {
        for (seq, chunk) in chunks.iter().enumerate() {
            let op = json!({"op":"data","sid":sids[si],"seq":seq,"d":b64(chunk)});
            batches[case.batch_of[k]].push((case.inner_shuffle[k], op));
            k += 1;
        }
    }
    let mut tasks = Vec::new();
    for &b in &case.fire_order {
        let mut ops = std::mem::take(&mut batches[b]);
        ops.sort_by_key(|(key, _)| *key);
        let ops: Vec<Value> = ops.into_iter().map(|(_, op)| op).collect();
        let n = Arc::clone(n);
        tasks.push(tokio::spawn(async move {
            let replies = n.batch(Value::Array(ops.clone())).await;
            ops.into_iter().zip(replies).collect::<Vec<_>>()
        }));
    }
    // Per session: downlink bytes by seq.
    let mut down: Vec<std::collections::BTreeMap<u64, Vec<u8>>> =
        vec![Default::default(); case.sessions.len()];
    for t in tasks {
        for (op, reply) in within("batches", t).await.unwrap() {
            prop_assert!(reply.get("e").is_none(), "{op} -> {reply}");
            prop_assert_eq!(&reply["seq"], &op["seq"]);
            let si = sids.iter().position(|s| op["sid"] == s.as_str()).unwrap();
            down[si].insert(op["seq"].as_u64().unwrap(), d(&reply));
        }
    }
    for (si, chunks) in case.sessions.iter().enumerate() {
        let want: Vec<u8> = chunks.concat();
        let mut got: Vec<u8> = down[si].values().flatten().copied().collect();
        prop_assert!(
            want.starts_with(&got),
            "session {si}: downlink out of order"
        );
        let mut seq = chunks.len() as u64;
        while got.len() < want.len() {
            let r = n.op(json!({"op":"data","sid":sids[si],"seq":seq})).await;
            prop_assert_eq!(r["seq"].as_u64(), Some(seq));
            got.extend(d(&r));
            seq += 1;
        }
        prop_assert_eq!(&got, &want, "session {}: downlink", si);
        prop_assert_eq!(&*logs[si].lock().unwrap(), &want, "session {}: uplink", si);
        n.op(json!({"op":"close","sid":sids[si]})).await;
    }
    Ok(())
}

#[test]
fn random_interleavings_keep_every_stream_in_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = Arc::new(rt.block_on(node(|c| {
        c.params.longpoll_deadline = Duration::from_millis(200);
        c.params.active_drain_deadline = Duration::from_millis(150);
        c.params.settle_step = Duration::from_millis(5);
    })));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner.run(&case(), |c| rt.block_on(check(&n, c))).unwrap();
}
