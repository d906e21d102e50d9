//! End to end over loopback: origin ← seqtun-node ← (stand-in Apps Script relay) ←
//! seqtun-client ← a SOCKS5 or HTTP CONNECT consumer, with every byte verified by SHA-256.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::common::*;

const MIB: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
enum Via {
    Socks,
    Http,
}

#[derive(Clone, Copy, Debug)]
enum Path {
    Direct,
    AppsScript,
}

struct Tunnel {
    client: seqtun_client::ClientHandle,
    _node: seqtun_node::NodeHandle,
}

async fn tunnel(legacy: bool, path: Path) -> Tunnel {
    let node = node(legacy).await;
    let cfg = match path {
        Path::Direct => client_cfg(&node.url(), KEY),
        Path::AppsScript => {
            let relay = apps_script_standin(node.addr).await;
            client_cfg(&format!("http://{relay}/macros/s/standin/exec"), RELAY_KEY)
        }
    };
    Tunnel {
        client: client(cfg).await,
        _node: node,
    }
}

async fn open(t: &Tunnel, via: Via, origin: SocketAddr) -> TcpStream {
    let (ok, s) = match via {
        Via::Socks => {
            let (code, s) = socks(t.client.socks.unwrap(), "127.0.0.1", origin.port()).await;
            (code == 0, s)
        }
        Via::Http => {
            let (status, s) =
                http_connect(t.client.http.unwrap(), "127.0.0.1", origin.port()).await;
            (status == 200, s)
        }
    };
    assert!(ok, "the front end refused the connection");
    s
}

/// Sends `len` bytes through an echo origin while reading them back; checks SHA-256 both ways.
async fn echo_through(t: &Tunnel, via: Via, origin: SocketAddr, seed: u64, len: usize) {
    echo_exact(open(t, via, origin).await, seed, len).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_socks_direct_pipelined() {
    let t = tunnel(false, Path::Direct).await;
    let origin = echo().await;
    bounded(
        "64 MiB echo",
        BULK_LIMIT,
        echo_through(&t, Via::Socks, origin, 1, 64 * MIB),
    )
    .await;
    let s = t.client.stats.snapshot();
    assert_eq!((s.pipelined_sessions, s.legacy_sessions), (1, 0));
    assert!(
        s.bytes_up >= (64 * MIB) as u64 && s.bytes_down >= (64 * MIB) as u64,
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_http_apps_script_legacy() {
    let t = tunnel(true, Path::AppsScript).await;
    let origin = echo().await;
    bounded(
        "64 MiB echo",
        BULK_LIMIT,
        echo_through(&t, Via::Http, origin, 2, 64 * MIB),
    )
    .await;
    let s = t.client.stats.snapshot();
    assert_eq!((s.pipelined_sessions, s.legacy_sessions), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_front_path_and_node_dialect_carries_a_stream() {
    for legacy in [false, true] {
        for path in [Path::Direct, Path::AppsScript] {
            let t = tunnel(legacy, path).await;
            let origin = echo().await;
            for (i, via) in [Via::Socks, Via::Http].into_iter().enumerate() {
                within(
                    "1 MiB echo",
                    echo_through(&t, via, origin, 10 + i as u64, MIB + 7),
                )
                .await;
            }
            let s = t.client.stats.snapshot();
            let want = if legacy { (0, 2) } else { (2, 0) };
            assert_eq!(
                (s.pipelined_sessions, s.legacy_sessions),
                want,
                "{legacy} {path:?}"
            );
            assert!(!t.client.pipelining_disabled(), "{legacy} {path:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sessions() {
    let t = std::sync::Arc::new(tunnel(false, Path::Direct).await);
    let origin = echo().await;
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let t = std::sync::Arc::clone(&t);
        let via = if i % 2 == 0 { Via::Socks } else { Via::Http };
        tasks.push(tokio::spawn(async move {
            echo_through(&t, via, origin, 100 + i, 256 * 1024 + i as usize).await;
        }));
    }
    within("50 sessions", async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    assert_eq!(t.client.stats.snapshot().sessions, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_data_carries_the_first_bytes_and_the_origin_can_speak_first() {
    let t = tunnel(false, Path::Direct).await;
    // Speaks first: the session opens with connect (nothing to wait for on the app side).
    let origin = greeter(b"220 hello\r\n").await;
    let (code, mut s) = socks(t.client.socks.unwrap(), "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0);
    assert_eq!(read_n(&mut s, 11).await, b"220 hello\r\n");
    s.write_all(b"ping").await.unwrap();
    assert_eq!(read_n(&mut s, 4).await, b"ping");
    // A domain target.
    let origin = echo().await;
    let (code, mut s) = socks(t.client.socks.unwrap(), "localhost", origin.port()).await;
    assert_eq!(code, 0);
    s.write_all(b"by name").await.unwrap();
    assert_eq!(read_n(&mut s, 7).await, b"by name");
    // An IPv6 target, where the machine has ::1.
    let Ok(l6) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("skipping the IPv6 target: ::1 is not available here");
        return;
    };
    let port = l6.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l6.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = c.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let (code, mut s) = socks(t.client.socks.unwrap(), "::1", port).await;
    assert_eq!(code, 0);
    s.write_all(b"six").await.unwrap();
    assert_eq!(read_n(&mut s, 3).await, b"six");
    let (status, mut s) = http_connect(t.client.http.unwrap(), "::1", port).await;
    assert_eq!(status, 200);
    s.write_all(b"bracketed").await.unwrap();
    assert_eq!(read_n(&mut s, 9).await, b"bracketed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_relay_cools_down_and_batches_move_to_the_other() {
    let node = node(false).await;
    let dead = closed_port().await;
    let mut cfg = client_cfg(&format!("http://{dead}"), KEY);
    cfg.relays
        .push(seqtun_client::RelaySpec::parse(&node.url()).unwrap());
    cfg.params.relay_failure_threshold = 1;
    cfg.params.first_data_wait = std::time::Duration::ZERO;
    let c = client(cfg).await;
    let origin = echo().await;
    let (code, _) = socks(c.socks.unwrap(), "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0x01, "round robin starts with the dead relay");
    for i in 0..5u8 {
        let (code, mut s) = socks(c.socks.unwrap(), "127.0.0.1", origin.port()).await;
        assert_eq!(
            code, 0,
            "session {i} uses the live relay while the dead one cools"
        );
        s.write_all(&[i]).await.unwrap();
        assert_eq!(read_n(&mut s, 1).await, [i]);
    }
    assert_eq!(c.stats.snapshot().failed_batches, 1);
}
