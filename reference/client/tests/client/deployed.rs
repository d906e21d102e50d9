//! seqtun-client against stand-ins for deployed nodes (`seqtun_node::Deployed`), whose 2 MiB
//! request body limit broke its uploads: requests stay under the limit with default settings,
//! and a 413 (from the node, or `tunnel batch HTTP 413` through a relay) is repacked and resent
//! without losing or duplicating a byte (PROTOCOL.md §6.3).

use std::sync::Arc;
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientFaults, ClientHandle, RelaySpec};
use seqtun_node::{Deployed, NodeConfig, NodeHandle};
use seqtun_wire::client::params::MAX_BATCH_BODY_BYTES;
use seqtun_wire::params::DEPLOYED_BODY_LIMIT;

use crate::common::*;

const MIB: usize = 1 << 20;

async fn spawn_node(cfg: NodeConfig) -> NodeHandle {
    seqtun_node::spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A NODE-903-like stand-in on short timings, with its body limit lowered to `limit`.
async fn standin(limit: usize) -> NodeHandle {
    let mut cfg = NodeConfig::new(KEY);
    cfg.params.longpoll_deadline = Duration::from_millis(500);
    Deployed::Node903.apply(&mut cfg);
    cfg.params.max_body_bytes = limit;
    spawn_node(cfg).await
}

/// A client with default settings except its listener.
fn default_client(url: &str, key: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(vec![RelaySpec::parse(url).unwrap()], key);
    cfg.socks = Some("127.0.0.1:0".parse().unwrap());
    cfg.stats_interval = None;
    cfg
}

/// `total` bytes up and back down through an echo origin, split over `sessions` concurrent
/// SOCKS5 connections, each checked by SHA-256.
async fn echo_sessions(c: &ClientHandle, sessions: usize, total: usize) {
    let origin = echo().await;
    let proxy = c.socks.unwrap();
    let tasks: Vec<_> = (0..sessions)
        .map(|i| {
            let len = total / sessions + if i == 0 { total % sessions } else { 0 };
            tokio::spawn(async move {
                let (code, s) = socks(proxy, "127.0.0.1", origin.port()).await;
                assert_eq!(code, 0);
                echo_exact(s, 1000 + i as u64, len).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// The "done when": 64 MiB up and 64 MiB down, three sessions at once, through a
/// NODE-903-like stand-in with its real settings (2 MiB body limit, 15 s long-poll, no poll
/// preemption), with the client's default settings. Not one request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_three_sessions_through_a_node_903_like_stand_in() {
    let node = spawn_node(Deployed::Node903.config(KEY)).await;
    let c = client(default_client(&node.url(), KEY)).await;
    bounded(
        "64 MiB each way",
        BULK_LIMIT,
        echo_sessions(&c, 3, 64 * MIB),
    )
    .await;
    let s = c.stats.snapshot();
    assert_eq!(s.refused_batches, 0, "{s}");
    assert!(s.largest_body as usize <= MAX_BATCH_BODY_BYTES, "{s:?}");
    assert!(
        s.largest_body as usize > MIB,
        "batches were not full: {s:?}"
    );
    assert_eq!((s.pipelined_sessions, s.legacy_sessions), (3, 0));
    assert!(
        s.bytes_up >= 64 * MIB as u64 && s.bytes_down >= 64 * MIB as u64,
        "{s}"
    );
}

/// A node whose limit is far below the client's cap (as a proxy in front of it may have):
/// whole batches and lone ops are refused, learned, repacked and resent, directly and through
/// a relay, pipelined and legacy; every byte arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_below_the_cap_is_learned_and_no_byte_is_lost_or_duplicated() {
    let limit = 300_000;
    for (via_relay, no_pipelining) in [(false, false), (true, false), (false, true)] {
        let node = standin(limit).await;
        let mut cfg = if via_relay {
            let relay = apps_script_standin(node.addr).await;
            default_client(&format!("http://{relay}/macros/s/x/exec"), RELAY_KEY)
        } else {
            default_client(&node.url(), KEY)
        };
        cfg.params.no_pipelining = no_pipelining;
        cfg.params.coalesce_step = Duration::from_millis(5);
        cfg.params.coalesce_max = Duration::from_millis(20);
        let c = client(cfg).await;
        let what = format!("relay={via_relay} legacy={no_pipelining}");
        bounded(
            &what,
            Duration::from_secs(60),
            echo_sessions(&c, 3, 3 * MIB),
        )
        .await;
        let s = c.stats.snapshot();
        assert!(
            s.refused_batches > 0,
            "{what}: the limit was never hit: {s}"
        );
        assert!(s.largest_body as usize <= limit, "{what}: {s:?}");
        assert_eq!(s.failed_batches, 0, "{what}: {s}");
    }
}

/// `--max-batch-bytes` raises the cap for a node known to take more; the default stays under
/// the deployed limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_cap_sends_larger_bodies_to_a_node_that_takes_them() {
    let node = spawn_node(NodeConfig::new(KEY)).await;
    for (cap, over) in [(None, false), (Some(8 * MIB), true)] {
        let mut cfg = default_client(&node.url(), KEY);
        cfg.params.coalesce_step = Duration::from_millis(5);
        if let Some(cap) = cap {
            cfg.params.max_batch_body = cap;
        }
        let c = client(cfg).await;
        bounded(
            "uploads",
            Duration::from_secs(60),
            echo_sessions(&c, 3, 6 * MIB),
        )
        .await;
        let s = c.stats.snapshot();
        assert_eq!(
            s.largest_body as usize > DEPLOYED_BODY_LIMIT,
            over,
            "cap {cap:?}: {s:?}"
        );
        c.shutdown().await;
    }
}

/// The client before the body cap (`ignore_body_limit`): two 1 MiB ops share a request the
/// stand-in refuses, and the upload breaks. This is the break the matrix must show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_before_the_fix_breaks_on_the_deployed_limit() {
    let node = standin(DEPLOYED_BODY_LIMIT).await;
    let mut cfg = default_client(&node.url(), KEY);
    cfg.faults = ClientFaults {
        ignore_body_limit: true,
        ..ClientFaults::default()
    };
    let c = Arc::new(client(cfg).await);
    let origin = echo().await;
    // A first exchange proves the relay path, so the upload's session opens optimistically
    // (§6.7 item 1) and its first bytes race into the batches as they did before that rule.
    let (code, warm) = socks(c.socks.unwrap(), "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0);
    echo_exact(warm, 1, 10).await;
    let (code, s) = socks(c.socks.unwrap(), "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0);
    let broke = bounded("a broken upload", Duration::from_secs(30), async move {
        let data = pattern(7, 4 * MIB);
        let (mut rd, mut wr) = s.into_split();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            let _ = wr.write_all(&data).await;
            wr
        });
        let got = {
            use tokio::io::AsyncReadExt as _;
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break got,
                    Ok(n) => got += n,
                }
            }
        };
        writer.abort();
        got
    })
    .await;
    assert!(broke < 4 * MIB, "the upload went through");
}
