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
