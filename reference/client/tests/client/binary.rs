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

/// Reads stdout lines until `n` `<role> listening on <addr>` lines were seen.
async fn listeners(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    n: usize,
) -> std::collections::HashMap<String, std::net::SocketAddr> {
    let mut out = std::collections::HashMap::new();
    while out.len() < n {
        let line = within("a listening line", lines.next_line())
            .await
            .unwrap()
            .unwrap();
        let (role, addr) = line
            .split_once(" listening on ")
            .unwrap_or_else(|| panic!("{line}"));
        out.insert(role.to_string(), addr.parse().unwrap());
    }
    out
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The safety bug of issue 15: `--config mhrv.json` (fronting to an address, here an unused
/// loopback one standing in for Google's) plus `--relay <loopback relay>` must dial the relay
/// itself; with the file's fronting leaking onto it, no byte would get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_files_fronting_does_not_leak_onto_a_flag_relay_and_sigterm_is_graceful() {
    let node = node(false).await;
    let dir = std::env::temp_dir().join(format!("seqtun-client-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("mhrv.json");
    std::fs::write(
        &cfg,
        r#"{"mode":"full","script_id":"NOT_USED","auth_key":"unused","google_ip":"127.0.0.2",
            "front_domain":"www.google.com","listen_host":"127.0.0.1","listen_port":0,"socks5_port":0,
            "log_level":"info","sockz":1}"#,
    )
    .unwrap();
    let mut child = bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--relay",
            &node.url(),
            "--key",
            KEY,
        ])
        .args([
            "--coalesce-step-ms",
            "2",
            "--coalesce-max-ms",
            "10",
            "--metrics",
            "127.0.0.1:0",
        ])
        .env("SEQTUN_QUIET", "yes")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addrs = listeners(&mut lines, 3).await;
    let origin = echo().await;
    let (code, mut s) = socks(addrs["socks5"], "127.0.0.1", origin.port()).await;
    assert_eq!(code, 0, "the flag relay is reached directly");
    s.write_all(b"not fronted").await.unwrap();
    assert_eq!(read_n(&mut s, 11).await, b"not fronted");
    let metrics = http_get(addrs["metrics"], "/metrics").await;
    assert!(
        metrics.contains("seqtun_client_sessions_active 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seqtun_client_replies_total{outcome=\"data\"} 1"),
        "{metrics}"
    );
    let stats = http_get(addrs["metrics"], "/stats").await;
    assert!(stats.contains(r#""socks5_sessions":1"#), "{stats}");
    assert!(stats.contains(r#""replies":{"data":1,"#), "{stats}");
    assert!(stats.contains(r#""held_bytes":0"#), "{stats}");
    assert!(stats.contains(r#""rates":{"batches_per_sec":"#), "{stats}");
    assert!(stats.contains(r#""window_secs":"#), "{stats}");
    assert!(stats.contains(r#""bytes_down_per_sec":"#), "{stats}");
    sigterm(&child);
    let out = within("a graceful exit", child.wait_with_output())
        .await
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key \"sockz\""), "{err}");
    assert!(err.contains("SIGTERM: shutting down"), "{err}");
    assert!(
        err.contains("final stats: sessions 0 active (1 total"),
        "{err}"
    );
    assert!(
        !err.contains("127.0.0.2"),
        "the file's fronting was used: {err}"
    );
    assert!(!err.contains('\u{1b}'), "ANSI escapes in a pipe: {err}");
    // The session still open at SIGTERM was closed at the node.
    within("the node to close the session", async {
        while !node.state.table.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out)
        .await
        .unwrap();
    out
}

#[tokio::test]
async fn help_headings_version_completions_and_boolean_env() {
    let out = bin().arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "Listeners:",
        "Keys:",
        "Limits:",
        "Timing:",
        "Logging and stats:",
        "Upstream:",
        "Protocol:",
    ] {
        assert!(help.contains(heading), "no {heading} in\n{help}");
    }
    let unheaded = seqtun_runtime::heading::unheaded(&help);
    assert!(unheaded.is_empty(), "flags without a heading: {unheaded:?}");
    for var in [
        "SEQTUN_MAX_SESSIONS",
        "SEQTUN_MAX_BATCH_OPS",
        "SEQTUN_FAILED_TARGETS_MAX",
        "SEQTUN_LOG_FORMAT",
    ] {
        assert!(help.contains(var), "no {var} in\n{help}");
    }
    let out = bin().arg("--version").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("seqtun-client "));
    let out = bin().args(["completions", "fish"]).output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("first-data-wait-ms"));
    let out = bin()
        .args([
            "--relay",
            "http://127.0.0.1:1",
            "--key",
            "k",
            "--socks",
            "127.0.0.1:0",
        ])
        .env("SEQTUN_QUIET", "maybe")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("SEQTUN_QUIET=\"maybe\""),
        "{err}"
    );
}

/// What the log tells an operator (issue 15): the startup summary prints values, not `Debug`;
/// an open that failed after the app was told "connected" says so; a session ended by a failed
/// batch gets a line of its own, naming its sid; and the 404 page of a wrong key is summarised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_why_each_session_ended() {
    use serde_json::json;
    let mut node = Scripted::start().await;
    let mut child = bin()
        .args([
            "--relay",
            &node.url(),
            "--key",
            KEY,
            "--socks",
            "127.0.0.1:0",
        ])
        .args(["--coalesce-step-ms", "2", "--coalesce-max-ms", "10"])
        .env_remove("RUST_LOG")
        .env_remove("SEQTUN_LOG_LEVEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let proxy = listeners(&mut lines, 1).await["socks5"];
    // A refused open the app is told about proves the relay path (§6.7 item 1).
    let app = tokio::spawn(async move { socks(proxy, "warm-up.test", 22).await });
    node.next()
        .await
        .reply(vec![json!({"e": "connect failed: warm-up"})]);
    assert_eq!(app.await.unwrap().0, 0x01);
    // Told "connected" early, then refused by the node: the connection is reset.
    let (code, mut granted) = socks(proxy, "granted.test", 443).await;
    assert_eq!(code, 0, "an early yes once the path is proven");
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["host"], "granted.test");
    asked.reply(vec![json!({"e": "connect failed: Connection refused"})]);
    let mut buf = [0u8; 8];
    let n = tokio::io::AsyncReadExt::read(&mut granted, &mut buf).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // Opened, then its poll's batch fails with HTTP 500.
    let (code, _ended) = socks(proxy, "ended.test", 443).await;
    assert_eq!(code, 0);
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["host"], "ended.test");
    asked.reply(vec![connected("s9", Some(1))]);
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["op"], "data", "{:?}", asked.ops());
    asked.raw(Raw {
        status: 500,
        headers: vec![("content-type", "text/html".into())],
        body: b"<html><body><h1>404 Not Found</h1>\n<hr><center>nginx</center></body></html>"
            .to_vec(),
    });
    let close = node.next().await;
    assert_eq!(close.ops(), vec![json!({"op": "close", "sid": "s9"})]);
    close.reply(vec![json!({"sid": "s9", "eof": true})]);
    sigterm(&child);
    let out = within("a graceful exit", child.wait_with_output())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let started = err
        .lines()
        .find(|l| l.contains("seqtun-client started:"))
        .unwrap_or_else(|| panic!("no startup summary: {err}"));
    assert!(started.contains("socks=127.0.0.1:"), "{started}");
    assert!(started.contains("http=-"), "{started}");
    assert!(
        !started.contains("Some(") && !started.contains("None"),
        "{started}"
    );
    assert!(
        err.lines().any(|l| l.contains("granted.test")
            && l.contains("the app had already been told the tunnel was open")),
        "{err}"
    );
    let ended = err
        .lines()
        .find(|l| l.contains("session ended:") && l.contains("s9"))
        .unwrap_or_else(|| panic!("no line for the failed batch's session: {err}"));
    assert!(ended.contains("500"), "{ended}");
    let failed: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("mux: batch failed"))
        .collect();
    assert_eq!(failed.len(), 1, "logged once: {err}");
    assert!(
        failed[0].contains("404 Not Found nginx") && !failed[0].contains("<center>"),
        "HTML is summarised on one line: {err}"
    );
}
