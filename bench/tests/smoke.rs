//! Every bench workload once, at tiny sizes and a 20 ms relay, against the in-process node and
//! against a `seqtun-node` binary reached only by URL, so the benches cannot rot between runs.
//! Nothing here asserts a speed: only that every run moved every byte it should have, spent
//! relay calls, and that the tables render.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use seqtun_bench::report::Table;
use seqtun_bench::run::Runner;
use seqtun_bench::settings::{ExternalNode, Settings, Sizes};
use seqtun_bench::suite::{self, Plan};
use seqtun_bench::workload::Workload;
use seqtun_bench::{Mode, model};

const RTT: Duration = Duration::from_millis(20);
const EXTERNAL_KEY: &str = "smoke-external-key";

fn settings(external: Option<ExternalNode>) -> Settings {
    Settings {
        rtt: RTT,
        jitter: Duration::ZERO,
        sizes: Sizes::Smoke,
        external,
    }
}

fn plans(s: &Settings) -> Vec<Plan> {
    let mut plans = suite::tunnel(s);
    plans.extend(suite::capacity(s));
    plans.extend(suite::faults(s));
    plans
}

/// Runs every plan once per mode and checks what each run moved.
fn run_all(runner: &Runner) -> Vec<Table> {
    let mut tables = Vec::new();
    for plan in plans(&runner.settings) {
        let started = std::time::Instant::now();
        let table = runner.table(&plan, 0, 1).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("{}: {:?}", plan.id, started.elapsed());
        let modes: Vec<Mode> = table.rows.iter().map(|(m, _)| *m).collect();
        assert_eq!(modes, runner.modes(&plan), "{}", plan.id);
        for (mode, samples) in &table.rows {
            let s = samples[0];
            let want = plan.workload.bytes().unwrap_or(16);
            if let Workload::Goodput { .. } = plan.workload {
                // Only the replay-safe mode must finish; a plain #903 node may lose the
                // download to a lost reply, and then it must say how.
                let a = s.attempts.expect("a goodput run counts its attempts");
                if *mode == Mode::Depth(2) {
                    assert!(a.complete, "{}/{mode}: {a:?}", plan.id);
                }
                assert!(a.complete || a.broken > 0, "{}/{mode}: {a:?}", plan.id);
                assert_eq!(s.bytes, if a.complete { want } else { 0 });
                continue;
            }
            assert_eq!(s.bytes, want, "{}/{mode}", plan.id);
            assert!(
                s.calls > 0 || matches!(plan.workload, Workload::RpcAfterIdle { .. }),
                "{}/{mode}: no relay call counted",
                plan.id
            );
            if let Workload::RpcAfterIdle { .. } = plan.workload {
                assert!(
                    s.idle_calls_per_min.is_some_and(|c| c > 0.0),
                    "{}/{mode}: an idle session polls",
                    plan.id
                );
            }
            if let Workload::BulkDown { .. } = plan.workload {
                assert!(s.steady.is_some(), "{}/{mode}", plan.id);
            }
            if let Workload::Capacity { .. } = plan.workload
                && cfg!(target_os = "linux")
            {
                assert!(s.node_cpu.is_some(), "{}/{mode}: node CPU unread", plan.id);
            }
        }
        let text = table.markdown();
        for (mode, _) in &table.rows {
            assert!(text.contains(&format!("| {mode} |")), "{text}");
        }
        tables.push(table);
    }
    tables
}

#[test]
fn every_workload_runs_against_the_in_process_node() {
    let runner = Runner::new(settings(None)).unwrap();
    let tables = run_all(&runner);
    let ids: Vec<&str> = tables.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bulk_down-capped",
            "bulk_down-capped-latency0",
            "bulk_down-bandwidth",
            "bulk_up",
            "windowed",
            "rpc_after_idle",
            "many_sessions",
            "node_capacity",
            "goodput-drop_reply"
        ]
    );
    let windowed = tables.iter().find(|t| t.id == "windowed").unwrap();
    assert!(
        windowed.rows.iter().any(|(m, _)| *m == Mode::NoPreemption),
        "the in-process node can be switched to no preemption"
    );
    assert_eq!(
        model::depth(Mode::NoPreemption),
        seqtun_client::ClientParams::default().depth
    );
}

/// A `seqtun-node` process, killed when dropped.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `seqtun-node` binary, built if this test run has not built it yet (`cargo test -p
/// seqtun-bench` alone does not build other packages' binaries).
fn node_binary() -> PathBuf {
    let test = std::env::current_exe().unwrap();
    let dir = test.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = dir.join(format!("seqtun-node{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "seqtun-node",
                "--bin",
                "seqtun-node",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build seqtun-node");
    }
    bin
}

/// Starts `seqtun-node` with the bench's scaled timing and returns it with its URL.
fn spawn_node(timing_flags: &[String]) -> (NodeProcess, String) {
    let mut child = Command::new(node_binary())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--key",
            EXTERNAL_KEY,
            "--stats-secs",
            "0",
        ])
        .args(timing_flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let node = NodeProcess(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (node, format!("http://{addr}"))
}

#[test]
fn every_workload_runs_against_a_node_given_by_url() {
    let flags = settings(None).timing().node_flags();
    let (node, url) = spawn_node(&flags);
    let external = ExternalNode {
        url,
        key: EXTERNAL_KEY.into(),
        pid: None,
    };
    let runner = Runner::new(settings(Some(external))).unwrap();
    let tables = run_all(&runner);
    for t in &tables {
        assert!(
            t.rows.iter().all(|(m, _)| *m != Mode::NoPreemption),
            "{}: an external node cannot be switched",
            t.id
        );
    }
    let capacity = tables.iter().find(|t| t.id == "node_capacity").unwrap();
    if cfg!(target_os = "linux") {
        // Found from the port: the process is this test's child.
        let cpu = capacity.rows[0].1[0].node_cpu;
        assert!(cpu.is_some(), "the external node's CPU time is read");
    }
    assert!(capacity.markdown().contains("external"));
    drop(node);
}
