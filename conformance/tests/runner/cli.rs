//! `seqtun-conform node --url …` against nodes started outside the runner.

use std::path::Path;
use std::process::Output;

use crate::support::{conform, count, report, text};
use seqtun_conform::builtin::{KEY, node_config};
use seqtun_conform::params::profile;

/// A node on loopback, started the way an external node would be: not by the runner.
pub fn start(legacy: bool) -> (tokio::runtime::Runtime, String) {
    start_with(legacy, seqtun_node::Faults::default())
}

fn start_with(legacy: bool, faults: seqtun_node::Faults) -> (tokio::runtime::Runtime, String) {
    start_tweaked(legacy, |cfg| cfg.faults = faults)
}

/// A node on the `fast` profile's limits, changed by `tweak`.
pub fn start_tweaked(
    legacy: bool,
    tweak: impl FnOnce(&mut seqtun_node::NodeConfig),
) -> (tokio::runtime::Runtime, String) {
    // Two workers, as the node's own binary has on a 2-core machine: with one, a debug build
    // parsing a multi-MiB body of another case held the thread past a 350 ms drain deadline,
    // and a concurrent case's upstream bytes were read too late for its reply.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = node_config(&profile("fast").unwrap(), legacy, false);
    tweak(&mut cfg);
    let h = rt
        .block_on(seqtun_node::spawn(cfg, "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let url = h.url();
    std::mem::forget(h);
    (rt, url)
}

/// `seqtun-conform node` against `url` with the reference key and the `fast` profile, plus
/// `extra`.
pub fn node_run(url: &str, extra: &[&str]) -> Output {
    conform(
        &[
            &["node", "--url", url, "--key", KEY, "--profile", "fast"],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn names_the_dialect_of_a_pipelined_and_a_legacy_node() {
    for (legacy, want) in [
        (
            false,
            "#903 (caps bit 0, seq echoed and ordered) with replay-safe seq (caps bit 1)",
        ),
        (true, "legacy (no caps, seq not echoed)"),
    ] {
        let (_rt, url) = start(legacy);
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let junit = dir.path().join("r.xml");
        let out = node_run(
            &url,
            &[
                "--report-json",
                json.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ],
        );
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(t.lines().next().unwrap_or_default().contains(want), "{t}");
        let r = report(&json);
        assert_eq!(r["targets"][0]["dialect"], want);
        assert!(count(&r, "pass") > 0, "{r}");
        assert_eq!(count(&r, "fail"), 0, "{r}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains("<testsuite") && xml.contains(&url), "{xml}");
    }
}

/// A NODE-MAIN-like node (#1115 era: echoes `seq`, orders nothing, no `caps`) is named as such;
/// its pipeline cases are ignored (it does not offer pipelining) and the rest pass.
#[test]
fn names_a_node_that_echoes_seq_without_ordering() {
    let (_rt, url) = start_with(
        false,
        seqtun_node::Faults {
            no_caps: true,
            unordered_writes: true,
            unordered_drains: true,
            ..seqtun_node::Faults::default()
        },
    );
    let out = node_run(&url, &["node/seq/"]);
    let t = text(&out);
    assert!(
        t.lines()
            .next()
            .unwrap_or_default()
            .contains("#1115-like (echoes seq but does not order it; echo is not ordering)"),
        "{t}"
    );
    assert!(t.contains("ignored (target lacks pipeline-seq)"), "{t}");
}

/// `--relay-url`: the same cases in the outer dialect through a relay in front of the node.
#[test]
fn a_node_behind_a_relay_is_tested_through_the_relay_url() {
    let (rt, url) = start(false);
    let mut cfg = seqtun_relay::RelayConfig::new(url, KEY, "relay-key");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let relay = rt.block_on(seqtun_relay::spawn(cfg)).unwrap();
    let exec = relay.url_for("dep1");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = conform(&[
        "node",
        "--relay-url",
        &exec,
        "--key",
        "relay-key",
        "--profile",
        "fast",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("#903 (caps bit 0, seq echoed and ordered)"),
        "{t}"
    );
    let r = report(&json);
    assert!(count(&r, "pass") >= 60, "{r}");
    assert_eq!(count(&r, "fail"), 0, "{r}");
    // The node's own HTTP surface is out of reach behind a relay: those cases are ignored.
    assert!(t.contains("ignored (target lacks direct)"), "{t}");
}

/// A node that advertises `caps` but does not order is held to #903: its seq cases run and
/// fail (not ignored), and the failure says that echo is not ordering.
#[test]
fn a_node_claiming_caps_without_ordering_is_held_to_its_claim() {
    let (_rt, url) = start_with(
        false,
        seqtun_node::Faults {
            unordered_writes: true,
            ..seqtun_node::Faults::default()
        },
    );
    let out = node_run(&url, &["node/seq/"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("inconsistent (advertises caps bit 0 but wrote seq 1 before seq 0)"),
        "{t}"
    );
    assert!(!t.contains("ignored (target lacks pipeline-seq)"), "{t}");
    assert!(t.contains("echo is not ordering"), "{t}");
}

/// Forcing a feature the node lacks makes cases fail; the exit code says so, and every failure
/// names the case, the section, what was expected and seen, and a replay command.
#[test]
fn failures_fail_the_run_and_say_how_to_replay_them() {
    let (_rt, url) = start(true);
    let out = node_run(&url, &["--feature", "pipeline-seq"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("[§7.4 node/seq/hold-later-seq]"), "{t}");
    assert!(
        t.contains("expected:") && t.contains("seen:") && t.contains("replay:   curl -sS"),
        "{t}"
    );
}

#[test]
fn expect_files_turn_known_failures_into_a_pass_and_catch_surprises() {
    let (_rt, url) = start(true);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    // Learn which cases fail when pipelining is forced on a legacy node. Only
    // the seq and single-op cases run: they fail for want of a seq echo or a
    // caps field, which no scheduling changes. Timing-bound cases elsewhere
    // could fail on one run and pass on the next, and the test would judge
    // the machine's load instead of the expect file.
    let json = dir.path().join("r.json");
    node_run(
        &url,
        &[
            "--feature",
            "pipeline-seq",
            "node/seq/",
            "node/single/",
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    let r = report(&json);
    let failing: Vec<&str> = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["grade"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!failing.is_empty());
    let entries: Vec<String> = failing
        .iter()
        .map(|n| format!("{n:?}: {{\"result\":\"fail\",\"reason\":\"legacy node\"}}"))
        .collect();
    let known = write("known.json", &format!("{{{}}}", entries.join(",")));
    let run = |p: &Path| {
        node_run(
            &url,
            &[
                "--feature",
                "pipeline-seq",
                "node/seq/",
                "node/single/",
                "--expect",
                p.to_str().unwrap(),
            ],
        )
    };
    let out = run(&known);
    assert!(out.status.success(), "{}", text(&out));
    // The other direction: a case expected to fail that passes is a surprise too.
    let mut wrong = entries.clone();
    wrong.push(
        "\"node/single/connect-data-op\": {\"result\":\"fail\",\"reason\":\"claimed broken\"}"
            .into(),
    );
    let surprising = write("wrong.json", &format!("{{{}}}", wrong.join(",")));
    let out = run(&surprising);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "UNEXPECTED node/single/connect-data-op: expected fail (claimed broken), got pass"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn list_and_filters_behave_like_cargo_test() {
    let (_rt, url) = start(false);
    let out = node_run(&url, &["--exact", "node/transport/health"]);
    let t = text(&out);
    assert!(t.contains("running 1 test"), "{t}");
    let node_cases = seqtun_conform::case::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors"),
    )
    .unwrap()
    .iter()
    .filter(|c| c.id.starts_with("node/"))
    .count();
    assert!(
        t.contains(&format!("{} filtered out", node_cases - 1)),
        "{t}"
    );
}

/// A wrong key gets the node's (or the relay's) decoy page on the probe: the run stops before
/// any case with a setup error naming the key to compare, and the page is shown as text.
#[test]
fn a_wrong_key_stops_at_the_probe_and_names_the_fix() {
    let (rt, url) = start(false);
    let out = conform(&["node", "--url", &url, "--key", "WRONG", "--profile", "fast"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("nginx's 404 page"), "{t}");
    assert!(
        t.contains("compare --key (or SEQTUN_KEY) with the node's TUNNEL_AUTH_KEY"),
        "{t}"
    );
    assert!(!t.contains("running") && !t.contains("hex"), "{t}");
    let mut cfg = seqtun_relay::RelayConfig::new(url, KEY, "relay-key");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let relay = rt.block_on(seqtun_relay::spawn(cfg)).unwrap();
    let out = conform(&[
        "node",
        "--relay-url",
        &relay.url_for("dep1"),
        "--key",
        "WRONG",
        "--profile",
        "fast",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("the Apps Script decoy page"), "{t}");
    assert!(
        t.contains("compare --key with the relay script's key"),
        "{t}"
    );
}

#[test]
fn setup_errors_name_the_fix() {
    let out = conform(&["node", "--key", KEY]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--url"), "{}", text(&out));
    let out = conform(&[
        "node",
        "--url",
        "http://127.0.0.1:1",
        "--key",
        KEY,
        "--profile",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("node-903"), "{}", text(&out));
    // Nothing listens there: a setup error before any case runs, not 60 failed cases.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for url in [url.as_str(), "http://"] {
        let out = conform(&["node", "--url", url, "--key", KEY]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("nothing answered the dialect probe"), "{t}");
        assert!(!t.contains("test result"), "{t}");
    }
}

/// A node with `longpoll_ms`, on the `fast` profile's other limits.
fn start_longpoll(longpoll_ms: u64) -> (tokio::runtime::Runtime, String) {
    start_tweaked(false, |cfg| {
        cfg.params.longpoll_deadline = std::time::Duration::from_millis(longpoll_ms);
    })
}

/// Without `--profile` the runner measures the long-poll after the dialect probe and picks the
/// matching profile (the field run named a 2 s node correctly, then ran the 15 s profile), or
/// the measured parameter; it says which; an explicit `--profile` wins.
#[test]
fn the_measured_long_poll_picks_the_profile() {
    let (_rt, main) = start_longpoll(2000);
    let (_rt2, odd) = start_longpoll(700);
    for (url, extra, want, longpoll) in [
        (
            &main,
            &[][..],
            "long-poll measured 2.0 s: using --profile node-main",
            2000.0,
        ),
        (
            &odd,
            &[][..],
            "--profile seqtun --param longpoll_deadline=700ms",
            700.0,
        ),
        (
            &main,
            &["--profile", "fast"][..],
            "profile fast, as given",
            1500.0,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let args = [
            &["node", "--url", url, "--key", KEY, "--exact"][..],
            &["node/longpoll/idle-poll-held-until-deadline"],
            &["--report-json", json.to_str().unwrap()],
            extra,
        ]
        .concat();
        let out = conform(&args);
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(t.contains(want), "{t}");
        let r = report(&json);
        assert_eq!(
            r["targets"][0]["params"]["longpoll_deadline"], longpoll,
            "{r}"
        );
        assert_eq!(count(&r, "pass"), 1, "{t}");
    }
    // A 2 s node, but the user's own long-poll wins and nothing is measured: held to 2.5 s,
    // the node fails the case, which shows whose value was used.
    let out = conform(&[
        "node",
        "--url",
        &main,
        "--key",
        KEY,
        "--exact",
        "node/longpoll/idle-poll-held-until-deadline",
        "--param",
        "longpoll_deadline=2500ms",
    ]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("long-poll as given by --param"), "{t}");
    assert!(!t.contains("long-poll measured"), "{t}");
    assert!(
        t.contains("not before longpoll_deadline - 100ms (2.4s)"),
        "{t}"
    );
}

/// A copied (here: hard-linked) binary finds the `vectors/` next to it, ahead of the source
/// tree's; `SEQTUN_VECTORS` wins over both, and a bad directory is named with the rule that
/// found it.
#[test]
fn the_vectors_directory_is_found_at_run_time() {
    let tmp = std::env::temp_dir().join(format!("seqtun-conform-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("vectors/node/transport")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    for f in ["schema.json", "node/transport/health.json"] {
        std::fs::copy(repo.join(f), tmp.join("vectors").join(f)).unwrap();
    }
    let bin = tmp.join("seqtun-conform");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_seqtun-conform"), &bin).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_seqtun-conform"), &bin).unwrap();
    }
    let run = |env: Option<&str>| {
        let mut c = std::process::Command::new(&bin);
        c.arg("--list").env_remove("SEQTUN_VECTORS");
        if let Some(v) = env {
            c.env("SEQTUN_VECTORS", v);
        }
        c.output().unwrap()
    };
    let listed = text(&run(None));
    assert!(listed.contains("transport/health"), "{listed}");
    assert!(
        !listed.contains("ops/connect-uuid-sid"),
        "used the source tree's vectors: {listed}"
    );
    let listed = text(&run(repo.to_str()));
    assert!(
        listed.contains("ops/connect-uuid-sid"),
        "SEQTUN_VECTORS wins: {listed}"
    );
    let out = run(Some("/nonexistent/vectors"));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("found by SEQTUN_VECTORS"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn version_and_completions() {
    let v = conform(&["--version"]);
    assert!(text(&v).contains(env!("CARGO_PKG_VERSION")), "{}", text(&v));
    let c = conform(&["completions", "bash"]);
    assert!(
        c.status.success() && text(&c).contains("--vectors"),
        "{}",
        text(&c)
    );
}
