//! The console as a user meets it: help and version, an estimate before the run, `--quick`
//! saying what it skipped and why, `--list-params` giving the node flags that match a profile
//! (checked against a real `seqtun-node` and the README), `--list`, and selections of nothing.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{conform, text};
use seqtun_conform::builtin::KEY;

#[test]
fn help_names_the_program_and_its_subcommands_and_hides_libtest_noise() {
    let out = conform(&["--help"]);
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("Usage: seqtun-conform [OPTIONS] [FILTER]... [COMMAND]"),
        "{help}"
    );
    for want in [
        "Commands:",
        "  node ",
        "  client ",
        "Selecting cases:",
        "Reports:",
        "--report-html",
        "--quick",
        "Exit codes:",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
    for noise in [
        "--bench",
        "-Z ",
        "No-op",
        "--logfile",
        "--show-output",
        "--nocapture",
    ] {
        assert!(!help.contains(noise), "{noise}: {help}");
    }
    // Each flag has its own text (libtest-mimic gave --ignored and --include-ignored one).
    let texts: Vec<&str> = help
        .lines()
        .filter(|l| {
            l.starts_with("          ") && !l.trim().is_empty() && !l.trim().starts_with('[')
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for t in &texts {
        assert!(seen.insert(t.trim()), "repeated help text {t:?}");
    }
    let node = text(&conform(&["node", "--help"]));
    assert!(node.contains("Usage: seqtun-conform node"), "{node}");
    assert!(node.contains("Target:"), "{node}");
    let v = conform(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("seqtun-conform {}", env!("CARGO_PKG_VERSION"))
    );
    // cargo test's own flags are still accepted.
    let quiet = conform(&[
        "--list",
        "--nocapture",
        "-Z",
        "unstable-options",
        "node/transport/health",
    ]);
    assert!(quiet.status.success(), "{}", text(&quiet));
}

/// With deployed timings the reaping and seq-wait cases take minutes: `--quick` skips them and
/// says which and why, and the run announces its estimate first.
#[test]
fn quick_skips_the_cases_that_wait_for_deployed_timeouts_and_says_why() {
    let (_rt, url) = crate::cli::start(false);
    let out = conform(&[
        "node",
        "--url",
        &url,
        "--key",
        KEY,
        "--profile",
        "seqtun",
        "--quick",
        "node/reaping/",
        "node/seq/wait-timeout-keeps-expected",
        "node/transport/health",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("estimate: 1 case on 1 target, at least"), "{t}");
    // The default lanes: 8 cases at once (measured in app/session.rs), not libtest's one per
    // core, which left a timer-bound suite waiting.
    assert!(t.contains(" with 8 at a time "), "{t}");
    assert!(
        t.contains("--quick: skipping 5 cases that wait for deployed timeouts"),
        "{t}"
    );
    assert!(t.contains("  node/reaping/idle-tcp-reaped-polled-survives: waits 6m 15s for tcp_idle, reap_interval"), "{t}");
    assert!(
        t.contains("node/seq/wait-timeout-keeps-expected: waits 30.1 s for seq_wait_timeout"),
        "{t}"
    );
    let line = t
        .lines()
        .find(|l| l.starts_with("test") && l.contains("idle-udp-session-reaped"))
        .unwrap();
    assert!(line.contains("ignored (--quick: waits"), "{t}");
    assert!(
        t.contains("1 passed; 0 failed; 0 soft-failed; 0 informational; 5 ignored"),
        "{t}"
    );
}

/// A workspace binary, built (or brought up to date) first: `cargo test -p seqtun-conform`
/// alone does not build other packages' binaries, and a stale one would lack new flags.
pub fn binary(package: &str) -> PathBuf {
    let conform = PathBuf::from(env!("CARGO_BIN_EXE_seqtun-conform"));
    let bin = conform.with_file_name(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package, "--bin", package])
        .status()
        .unwrap();
    assert!(status.success(), "cannot build {package}");
    assert!(bin.exists(), "{} is missing after the build", bin.display());
    bin
}

/// `--list-params` gives the `seqtun-node` flags that match the fast profile; a real node
/// started with exactly those passes the reaping cases on `--profile fast`, and the README
/// shows the same line.
#[test]
fn the_node_flags_for_the_fast_profile_work_and_are_documented() {
    let out = conform(&["--list-params"]);
    let t = text(&out);
    assert!(t.contains("reap_interval") && t.contains("250"), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("seqtun-node with these values: "))
        .unwrap();
    let flags = line.trim_start_matches("seqtun-node with these values: seqtun-node --key KEY ");
    assert!(flags.contains("--reap-interval-ms 250"), "{flags}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    assert!(
        readme.contains(flags),
        "the README shows the flags: {flags}"
    );
    let mut node = Command::new(binary("seqtun-node"))
        .args(["--listen", "127.0.0.1:0", "--key", KEY, "--stats-secs", "0"])
        .args(flags.split_whitespace())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(node.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first.trim().trim_start_matches("listening on ").to_string();
    assert!(!addr.is_empty(), "seqtun-node {flags} did not start");
    let out = conform(&[
        "node",
        "--url",
        &format!("http://{addr}"),
        "--key",
        KEY,
        "--profile",
        "fast",
        "node/reaping/",
    ]);
    let _ = node.kill();
    let _ = node.wait();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("4 passed; 0 failed"), "{t}");
}

/// `--list` shows each case's level, title and, given a target, whether it would run or why
/// not; libtest's `: test` suffix is gone. Without a target it lists every node case.
#[test]
fn list_shows_level_title_and_what_a_target_would_ignore() {
    let (_rt, url) = crate::cli::start(true);
    let list = |filter: &str| conform(&["node", "--url", &url, "--key", KEY, "--list", filter]);
    let out = list("node/seq/hold-later-seq");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let line = t
        .lines()
        .find(|l| l.contains("node/seq/hold-later-seq"))
        .unwrap_or_default();
    assert!(line.starts_with("[must]"), "{t}");
    assert!(line.contains("ignored: target lacks pipeline-seq"), "{t}");
    assert!(line.contains("seq 1 sent before seq 0 is held"), "{t}");
    assert!(!t.contains(": test"), "{t}");
    let out = list("node/transport/health");
    let t = text(&out);
    let line = t
        .lines()
        .find(|l| l.contains("node/transport/health"))
        .unwrap_or_default();
    assert!(line.contains("  run  "), "{t}");
    let out = conform(&["node", "--list"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("[should] node/seq/bad-base64-consumes-seq"),
        "{t}"
    );
    assert!(t.contains("give a target to see which would run"), "{t}");
}

/// A run that selects nothing is a setup error with a hint, not a green run: a filter typo, an
/// `--exact` id that is no case, `--ignored` with nothing ignored, and a vectors directory
/// without vectors. `--exact` takes the id as printed even with several targets.
#[test]
fn selecting_no_case_is_an_error_with_a_hint() {
    let (_rt, url) = crate::cli::start(false);
    let empty = tempfile::tempdir().unwrap();
    for (extra, hint) in [
        (&["nod/seq/"][..], "no case matches `nod/seq/`"),
        (
            &["--exact", "node/transport/healthz"][..],
            "no case matches `node/transport/healthz` exactly",
        ),
        (
            &["--ignored", "node/transport/health"][..],
            "--ignored runs only the cases a target lacks a feature for",
        ),
        (
            &["--vectors", empty.path().to_str().unwrap()][..],
            "no vectors in",
        ),
    ] {
        let out = crate::cli::node_run(&url, extra);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {t}");
        assert!(t.contains(hint), "{extra:?}: {t}");
        assert!(!t.contains("test result: ok"), "{t}");
    }
    let (_rt2, legacy) = crate::cli::start(true);
    let out = conform(&[
        "node",
        "--url",
        &url,
        "--url",
        &legacy,
        "--key",
        KEY,
        "--profile",
        "fast",
        "--exact",
        "node/transport/health",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("running 2 tests"), "{t}");
}
