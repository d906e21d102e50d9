//! The `seqtun-node` binary: the `listening on` line, port 0, and refusing to start without a
//! key.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[test]
fn prints_its_real_address_and_serves_health() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .args(["--listen", "127.0.0.1:0", "--key", "K"])
        .env_remove("TUNNEL_AUTH_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert_ne!(addr.port(), 0);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok"),
        "{resp}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn refuses_to_start_without_a_key_and_says_how_to_fix_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("TUNNEL_AUTH_KEY")
        .env("MHRV_AUTH_KEY", "oops")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TUNNEL_AUTH_KEY") && err.contains("MHRV_AUTH_KEY"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no listening line without a key");
}

#[test]
fn help_names_every_env_var_and_limit() {
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .args(["--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "PORT",
        "TUNNEL_AUTH_KEY",
        "MHRV_DIAGNOSTIC",
        "--legacy",
        "--max-sessions",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

/// Starts the binary with `args` and `env`, returns it and its address.
fn start(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    std::net::SocketAddr,
    BufReader<std::process::ChildStdout>,
) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seqtun-node"));
    cmd.args(["--listen", "127.0.0.1:0", "--key", "K"])
        .args(args)
        .env_remove("TUNNEL_AUTH_KEY")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    seqtun_testkit::process::spawn_listening(&mut cmd)
}

fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut s, request.as_bytes()).unwrap();
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
    resp
}

fn post_batch(addr: std::net::SocketAddr, body: &str) -> String {
    http(
        addr,
        &format!(
            "POST /tunnel/batch HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn sigterm(child: &std::process::Child) {
    signal(child, "-TERM");
}

fn signal(child: &std::process::Child, which: &str) {
    let ok = Command::new("kill")
        .args([which, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Ctrl-C in a terminal is SIGINT: the same graceful stop as SIGTERM.
#[test]
fn ctrl_c_stops_as_gracefully_as_sigterm() {
    let (child, _addr, _out) = start(&[], &[]);
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SIGINT: shutting down"), "{err}");
    assert!(err.contains("final stats"), "{err}");
}

#[test]
fn boolean_env_values_in_mhrv_spellings_work_and_a_bad_one_names_the_variable() {
    for v in ["1", "yes", "on", "true"] {
        let (mut child, addr, _out) = start(&[], &[("MHRV_DIAGNOSTIC", v)]);
        let resp = post_batch(addr, r#"{"k":"wrong","ops":[]}"#);
        assert!(
            resp.contains(r#"{"e":"unauthorized"}"#),
            "MHRV_DIAGNOSTIC={v}: {resp}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (mut child, addr, _out) = start(&[], &[("MHRV_DIAGNOSTIC", "0")]);
    assert!(post_batch(addr, r#"{"k":"wrong","ops":[]}"#).starts_with("HTTP/1.1 404"));
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .args(["--listen", "127.0.0.1:0", "--key", "K"])
        .env("MHRV_DIAGNOSTIC", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MHRV_DIAGNOSTIC=\"maybe\""), "{err}");
    assert!(err.contains("1/0, true/false, yes/no or on/off"), "{err}");
}

#[test]
fn sigterm_finishes_and_prints_the_final_stats_without_colour() {
    let (child, addr, _out) = start(&["--stats-secs", "1"], &[]);
    let resp = post_batch(addr, r#"{"k":"K","ops":[{"op":"close","sid":"x"}]}"#);
    assert!(resp.contains(r#""eof":true"#), "{resp}");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SIGTERM: shutting down"), "{err}");
    assert!(
        err.contains("stats: sessions 0 live"),
        "the periodic line: {err}"
    );
    let last = err
        .lines()
        .find(|l| l.contains("final stats"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        last.contains("replies 0 data / 0 empty / 1 eof / 0 error"),
        "{last}"
    );
    assert!(!err.contains('\u{1b}'), "ANSI escapes in a pipe: {err}");
}

#[test]
fn json_logs_and_a_separate_metrics_listener() {
    let (child, addr, mut out) = start(&["--log-format", "json", "--metrics", "127.0.0.1:0"], &[]);
    let metrics = seqtun_testkit::process::role_listening(&mut out, "metrics");
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let resp = http(addr, &get("/metrics"));
    assert!(
        resp.starts_with("HTTP/1.1 404"),
        "moved off the node's port: {resp}"
    );
    let resp = http(metrics, &get("/metrics"));
    assert!(resp.contains("seqtun_node_batches_total 0"), "{resp}");
    let resp = http(metrics, &get("/stats"));
    assert!(resp.contains(r#""batches":0"#), "{resp}");
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(err.contains("settings: mode=pipelined"), "{err}");
}

#[test]
fn help_has_headings_version_and_completions() {
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "Listeners:",
        "Keys:",
        "Limits:",
        "Timing:",
        "Logging and stats:",
        "Protocol:",
    ] {
        assert!(help.contains(heading), "no {heading} in\n{help}");
    }
    let unheaded = seqtun_runtime::heading::unheaded(&help);
    assert!(unheaded.is_empty(), "flags without a heading: {unheaded:?}");
    for var in [
        "SEQTUN_NODE_MAX_SESSIONS",
        "SEQTUN_NODE_LONGPOLL_MS",
        "SEQTUN_NODE_SHUTDOWN_GRACE_SECS",
    ] {
        assert!(help.contains(var), "no {var} in\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("seqtun-node {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(env!("CARGO_BIN_EXE_seqtun-node"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--longpoll-ms"));
}
