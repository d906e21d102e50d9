//! The whole chain without faults: app → SOCKS5 → seqtun-client → relay (latency and jitter)
//! → seqtun-node → origin, with every byte checked both ways. These are the baseline the fault
//! tests compare against: here every stream must complete.

use std::sync::Arc;

use crate::e2e::*;

const MIB: usize = 1 << 20;

/// 4 MiB echoed (4 MiB each way) and 4 MiB downloaded at once on one chain.
async fn both_ways(t: &E2e, what: &str) {
    let echo = EchoOrigin::start().await;
    let source = source_origin().await;
    let data = Arc::new(stream_bytes(1, 4 * MIB));
    let up = echo_streaming(t.open(echo.addr).await, Arc::clone(&data), what);
    let down = download(t.open(source).await, 2, 4 * MIB + 3, what);
    let (up, down) = tokio::join!(up, down);
    assert!(up.complete(), "{what}: echo {up:?}");
    assert!(down.complete(), "{what}: download {down:?}");
    echo.assert_received_prefixes(&[&data]);
    let c = t.client.stats.snapshot();
    assert!(c.bytes_up >= (4 * MIB) as u64, "{what}: {c}");
    assert!(c.bytes_down >= (8 * MIB) as u64, "{what}: {c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_node_carries_bytes_both_ways() {
    let t = e2e(Setup::default()).await;
    both_ways(&t, "pipelined").await;
    let c = t.client.stats.snapshot();
    assert_eq!((c.pipelined_sessions, c.legacy_sessions), (2, 0), "{c}");
    assert_eq!(c.failed_batches, 0, "{c}");
    let r = t.relay.stats();
    assert!(r.deployment("dep1").node_fetches > 2, "{r:?}");
    assert!(r.faults.is_empty(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_node_carries_bytes_both_ways() {
    let t = e2e(Setup {
        legacy: true,
        ..Setup::default()
    })
    .await;
    both_ways(&t, "legacy").await;
    let c = t.client.stats.snapshot();
    assert_eq!((c.pipelined_sessions, c.legacy_sessions), (0, 2), "{c}");
    assert_eq!(c.failed_batches, 0, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_mode_carries_bytes_both_ways() {
    let t = e2e(Setup {
        redirect: true,
        ..Setup::default()
    })
    .await;
    let echo = EchoOrigin::start().await;
    let data = Arc::new(stream_bytes(3, 2 * MIB));
    let seen = echo_streaming(t.open(echo.addr).await, Arc::clone(&data), "redirect").await;
    assert!(seen.complete(), "{seen:?}");
    let c = t.client.stats.snapshot();
    assert_eq!((c.pipelined_sessions, c.failed_batches), (1, 0), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_each_get_their_own_bytes() {
    let t = Arc::new(e2e(Setup::default()).await);
    let echo = EchoOrigin::start().await;
    let source = source_origin().await;
    let mut streams = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..12u64 {
        let t = Arc::clone(&t);
        let len = 256 * 1024 + i as usize * 1000;
        if i % 2 == 0 {
            let data = Arc::new(stream_bytes(100 + i, len));
            streams.push(Arc::clone(&data));
            let echo = echo.addr;
            tasks.push(tokio::spawn(async move {
                echo_streaming(t.open(echo).await, data, "concurrent echo").await
            }));
        } else {
            tasks.push(tokio::spawn(async move {
                download(t.open(source).await, 100 + i, len, "concurrent download").await
            }));
        }
    }
    for task in tasks {
        let seen = task.await.unwrap();
        assert!(seen.complete(), "{seen:?}");
    }
    let sent: Vec<&[u8]> = streams.iter().map(|s| s.as_slice()).collect();
    echo.assert_received_prefixes(&sent);
    assert_eq!(echo.connections(), 6);
    let c = t.client.stats.snapshot();
    assert_eq!((c.sessions, c.failed_batches), (12, 0), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_share_the_batches() {
    let t = e2e(Setup {
        deployments: vec!["dep1", "dep2"],
        ..Setup::default()
    })
    .await;
    let echo = EchoOrigin::start().await;
    let data = Arc::new(stream_bytes(4, 2 * MIB));
    let seen = echo_streaming(
        t.open(echo.addr).await,
        Arc::clone(&data),
        "two deployments",
    )
    .await;
    assert!(seen.complete(), "{seen:?}");
    let r = t.relay.stats();
    let (a, b) = (r.deployment("dep1"), r.deployment("dep2"));
    assert!(a.node_fetches > 0 && b.node_fetches > 0, "{r:?}");
    // Round robin alternates; only the session's last `close` may still be on its way.
    assert!(a.calls.abs_diff(b.calls) <= 2, "{r:?}");
}
