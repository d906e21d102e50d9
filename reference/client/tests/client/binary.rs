//! The `seqtun-client` binary: the `listening on` lines, port 0, real traffic, and errors that
//! name the fix.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

use crate::common::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seqtun-client"));
    for var in [
        "SEQTUN_SOCKS",
        "SEQTUN_HTTP",
        "SEQTUN_RELAYS",
        "SEQTUN_KEY",
        "SEQTUN_SOCKS_USER",
        "SEQTUN_SOCKS_PASS",
    ] {
        c.env_remove(var);
    }
    c.kill_on_drop(true);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_its_listeners_and_carries_traffic() {
    let node = node(false).await;
    let mut child = bin()
        .args([
            "--relay",
            &node.url(),
            "--key",
            KEY,
            "--socks",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--quiet",
        ])
        .args(["--coalesce-step-ms", "2", "--coalesce-max-ms", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let socks_line = within("first line", lines.next_line())
        .await
        .unwrap()
        .unwrap();
    let http_line = within("second line", lines.next_line())
        .await
        .unwrap()
        .unwrap();
    let socks_addr: std::net::SocketAddr = socks_line
        .strip_prefix("socks5 listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let http_addr: std::net::SocketAddr = http_line
        .strip_prefix("http listening on ")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(socks_addr.port(), 0);
    assert_ne!(http_addr.port(), 0);
    let origin = echo().await;
    let (code, mut s) = socks(socks_addr, "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0);
    s.write_all(b"through the binary").await.unwrap();
    assert_eq!(read_n(&mut s, 18).await, b"through the binary");
    let (status, mut s) = http_connect(http_addr, "127.0.0.1", origin.port()).await;
    assert_eq!(status, 200);
    s.write_all(b"and CONNECT").await.unwrap();
    assert_eq!(read_n(&mut s, 11).await, b"and CONNECT");
    child.kill().await.unwrap();
}

async fn fails_with(args: &[&str], needles: &[&str]) {
    let out = bin().args(args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "no listening line: {args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err} lacks {n}");
    }
}

#[tokio::test]
async fn bad_settings_are_refused_with_the_fix() {
    fails_with(
        &["--relay", "http://127.0.0.1:1", "--socks", "127.0.0.1:0"],
        &["--key", "TUNNEL_AUTH_KEY"],
    )
    .await;
    fails_with(&["--key", "k", "--socks", "127.0.0.1:0"], &["--relay"]).await;
    fails_with(
        &["--key", "k", "--relay", "http://127.0.0.1:1"],
        &["--socks", "--http"],
    )
    .await;
    fails_with(
        &[
            "--key",
            "k",
            "--socks",
            "127.0.0.1:0",
            "--relay",
            "http://h/tunnel",
        ],
        &["/macros/s/ID/exec"],
    )
    .await;
    fails_with(
        &["--key", "k", "--socks", "127.0.0.1:0", "--relay", "ftp://h"],
        &["bad relay URL", "http"],
    )
    .await;
}

#[tokio::test]
async fn help_lists_the_flags() {
    let out = bin().arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--socks",
        "--http",
        "--relay",
        "--key",
        "--front",
        "--sni",
        "--depth",
        "--no-pipelining",
        "--config",
        "--quiet",
        "--coalesce-step-ms",
        "SEQTUN_KEY",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test]
async fn a_taken_port_is_reported_with_the_fix() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = client_cfg("http://127.0.0.1:1", KEY);
    cfg.http = Some(taken.local_addr().unwrap());
    let err = seqtun_client::spawn(cfg)
        .await
        .err()
        .expect("the HTTP port is taken");
    let text = err.to_string();
    assert!(text.contains("http") && text.contains("port 0"), "{text}");
}
