//! The `seqtun-relay` binary: the `listening on` line, port 0, serving, the counters on exit,
//! and refusing to start without keys.

use std::io::{BufReader, Read as _};
use std::process::{Command, Stdio};

use seqtun_testkit::process::listening;
use serde_json::json;

use crate::common::*;

fn relay_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seqtun-relay"));
    for var in [
        "TUNNEL_SERVER_URL",
        "TUNNEL_AUTH_KEY",
        "RELAY_AUTH_KEY",
        "RELAY_DIAGNOSTIC",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

async fn reference_node() -> seqtun_node::NodeHandle {
    seqtun_node::spawn(
        seqtun_node::NodeConfig::new(NODE_KEY),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn serves_prints_its_address_and_the_counters_on_exit() {
    let node = reference_node().await;
    let mut child = relay_command()
        .args(["--listen", "127.0.0.1:0", "--node", &node.url()])
        .args(["--node-key", NODE_KEY, "--latency-ms", "10", "--seed", "1"])
        .env("RELAY_AUTH_KEY", RELAY_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr = listening(&mut stdout);
    assert_ne!(addr.port(), 0);

    let url = format!("http://{addr}/macros/s/{DEP}/exec");
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": [{"op":"close","sid":"s"}]});
    let a = post(&http(), &url, body.to_string()).await.unwrap();
    assert_eq!(a.text(), r#"{"r":[{"sid":"s","eof":true}]}"#);

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let stats = rest
        .strip_prefix("stats: ")
        .unwrap_or_else(|| panic!("{rest:?}"));
    let stats: serde_json::Value = serde_json::from_str(stats).unwrap();
    assert_eq!(stats["seed"], 1);
    assert_eq!(stats["deployments"][DEP]["node_fetches"], 1, "{stats}");
}

#[test]
fn refuses_to_start_without_keys_and_says_how_to_fix_it() {
    let out = relay_command()
        .args(["--listen", "127.0.0.1:0", "--node", "http://127.0.0.1:1"])
        .args(["--node-key", "N"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RELAY_AUTH_KEY") && err.contains("--key"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no listening line without a key");

    let out = relay_command()
        .args(["--listen", "127.0.0.1:0", "--node", "https://node.example"])
        .args(["--node-key", "N", "--key", "R"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://"));
}

#[test]
fn help_names_every_env_var_and_fault() {
    let out = relay_command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "TUNNEL_SERVER_URL",
        "TUNNEL_AUTH_KEY",
        "RELAY_AUTH_KEY",
        "RELAY_DIAGNOSTIC",
        "--latency-ms",
        "--max-concurrent",
        "--calls-per-day",
        "--max-response-bytes",
        "--seed",
        "--script",
        "--pattern",
        "--drop-request-rate",
        "--drop-reply-rate",
        "--duplicate-rate",
        "--hold-back-rate",
        "--decoy-rate",
        "--server-error-rate",
        "--short-reply-rate",
        "--strip-unknown-rate",
        "--extra-entry-rate",
        "--swap-entries-rate",
        "--strip-unknown-fields",
        "--redirect",
        "--diagnostic",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[tokio::test]
async fn a_wrong_node_key_is_logged_naming_both_causes_and_metrics_count_it() {
    let node = reference_node().await;
    let mut child = relay_command()
        .args(["--listen", "127.0.0.1:0", "--node", &node.url()])
        .args(["--node-key", "not-the-node-key", "--key", RELAY_KEY])
        .env("RELAY_DIAGNOSTIC", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr = listening(&mut stdout);
    let url = format!("http://{addr}/macros/s/{DEP}/exec");
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": [{"op":"close","sid":"s"}]});
    for _ in 0..3 {
        let a = post(&http(), &url, body.to_string()).await.unwrap();
        assert!(
            a.text().contains("HTTP 404"),
            "diagnostic JSON: {}",
            a.text()
        );
    }
    let metrics = get(&http(), &format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert!(
        metrics.text().contains(&format!(
            "seqtun_relay_node_http_errors_total{{deployment=\"{DEP}\"}} 3"
        )),
        "{}",
        metrics.text()
    );
    child.kill().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    let hints: Vec<&str> = err.lines().filter(|l| l.contains("HTTP 404")).collect();
    assert_eq!(hints.len(), 1, "logged once, not per call: {err}");
    assert!(
        hints[0].contains("--node-key / TUNNEL_AUTH_KEY"),
        "{}",
        hints[0]
    );
    assert!(
        hints[0].contains("--node / TUNNEL_SERVER_URL"),
        "{}",
        hints[0]
    );
    assert!(!err.contains('\u{1b}'), "no ANSI in a pipe: {err}");
}

#[test]
fn refuses_a_node_endpoint_url_a_bad_boolean_and_has_headings() {
    let out = relay_command()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--node",
            "http://127.0.0.1:8080/tunnel/batch",
        ])
        .args(["--node-key", "n", "--key", "r"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("drop the /tunnel... path"), "{err}");
    let out = relay_command()
        .args(["--listen", "127.0.0.1:0", "--node", "http://127.0.0.1:8080"])
        .args(["--node-key", "n", "--key", "r"])
        .env("RELAY_DIAGNOSTIC", "sure")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("RELAY_DIAGNOSTIC=\"sure\""),
        "{err}"
    );
    let help = relay_command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for heading in [
        "Listeners:",
        "Keys:",
        "Limits:",
        "Timing:",
        "Logging and stats:",
        "Faults:",
        "Protocol:",
    ] {
        assert!(help.contains(heading), "no {heading} in\n{help}");
    }
    let unheaded = seqtun_runtime::heading::unheaded(&help);
    assert!(unheaded.is_empty(), "flags without a heading: {unheaded:?}");
    assert!(help.contains("SEQTUN_RELAY_MAX_CONCURRENT"), "{help}");
    let v = relay_command().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("seqtun-relay "));
    let c = relay_command()
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&c.stdout).contains("--drop-reply-rate"));
}
