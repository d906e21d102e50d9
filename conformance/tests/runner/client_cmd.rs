//! `seqtun-conform client --cmd …` against client binaries started from a command template:
//! the reference client's real binary, and a client that answers every case with exit code 89.

use std::path::PathBuf;

use crate::support::{conform, count, report, text};

/// The `seqtun-client` binary, built if this test run has not built it yet (`cargo test -p
/// seqtun-conform` alone does not build other packages' binaries).
fn client_binary() -> PathBuf {
    crate::console::binary("seqtun-client")
}

#[test]
fn the_reference_client_binary_passes_through_the_command_template() {
    let bin = client_binary();
    for (outer, ignored_id) in [
        (false, "client/batch/outer-envelope"),
        (true, "client/batch/inner-envelope"),
    ] {
        let cmd = format!(
            "{} --relay {{relay_url}} --key {{key}} --socks {{socks}} --http {{http}} --quiet \
             --coalesce-step-ms 25 --coalesce-max-ms 100",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let mut args = vec![
            "client",
            "--cmd",
            &cmd,
            "--key",
            "client-key",
            "--profile",
            "fast",
            "--report-json",
            json.to_str().unwrap(),
            "client/",
        ];
        if outer {
            args.push("--outer");
        }
        let out = conform(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{t}");
        assert!(t.contains("#903 (sends seq only after caps bit 0)"), "{t}");
        let r = report(&json);
        assert_eq!(count(&r, "fail"), 0, "{t}");
        assert!(count(&r, "pass") >= 40, "{t}");
        assert!(
            t.lines()
                .any(|l| l.contains(ignored_id) && l.contains("... ignored")),
            "{t}"
        );
    }
}

#[test]
fn a_client_that_exits_89_is_unsupported_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = conform(&[
        "client",
        "--cmd",
        "echo 'no {socks} here' >&2; exit 89",
        "--key",
        "k",
        "--profile",
        "fast",
        "--report-json",
        json.to_str().unwrap(),
        "client/session/",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let r = report(&json);
    assert_eq!(count(&r, "fail"), 0, "{t}");
    assert!(count(&r, "unsupported") >= 5, "{t}");
}

/// A client that does not start fails the probe: a setup error (exit 2) saying what happened,
/// not one failed case per vector.
#[test]
fn a_client_that_does_not_start_stops_the_run_at_the_probe() {
    let out = conform(&[
        "client",
        "--cmd",
        "echo boom >&2; exit 3 # {socks}",
        "--profile",
        "fast",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(
            "exited (exit status: 3) without printing a `listening on` line; its stderr ends: boom"
        ),
        "{t}"
    );
    assert!(!t.contains("\nrunning "), "{t}");
}
