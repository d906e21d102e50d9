//! `client --cmd` starts each client in a process group of its own and ends the whole group, so
//! a template that forks (or a shell that does, for `a && b`) leaves nothing behind: one
//! orphaned client per case was left before, 46 after one run.

use std::time::{Duration, Instant};

use crate::support::{conform, text};

/// Whether `pid` is gone (or a zombie waiting to be reaped, which holds nothing).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn a_forking_client_template_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The shell forks a background child and a foreground one; neither is the process the
    // runner started.
    let cmd = format!(
        "sleep 300 & echo $! >> {p}; sleep 300 & echo $! >> {p}; echo 'socks5 listening on 127.0.0.1:9'; wait # {{socks}} {{relay_url}}",
        p = pids.display()
    );
    let out = conform(&[
        "client",
        "--cmd",
        &cmd,
        "--profile",
        "fast",
        "--test-threads",
        "4",
        "client/session/app-close",
        "client/session/eof-ends",
    ]);
    let t = text(&out);
    assert!(t.contains("running 2 tests"), "{t}");
    let started: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    // The probe and two cases each started the template once.
    assert!(started.len() >= 6, "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.iter().any(|p| !gone(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<&u32> = started.iter().filter(|p| !gone(**p)).collect();
    for p in &left {
        let _ = std::process::Command::new("kill")
            .arg(p.to_string())
            .status();
    }
    assert!(
        left.is_empty(),
        "still running after the run: {left:?}\n{t}"
    );
}
