//! The node binary as a child process: start it, find its addresses, read its memory.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// What the node may use beyond its memory budget: the binary, the runtime, allocator slack,
/// socket buffers in user space. Stated in docs/RELIABILITY.md from these runs.
pub const OVERHEAD: u64 = 96 << 20;

pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    pub async fn start(args: &[&str]) -> Self {
        Self::spawn(None, args)
    }

    /// With the soft and hard descriptor limits set to `nofile` (`sh -c ulimit`).
    pub async fn start_with_nofile(nofile: u64, args: &[&str]) -> Self {
        Self::spawn(Some(nofile), args)
    }

    fn spawn(nofile: Option<u64>, args: &[&str]) -> Self {
        let bin = env!("CARGO_BIN_EXE_seqtun-node");
        let mut all = vec![
            "--key",
            super::KEY,
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--stats-secs",
            "0",
        ];
        all.extend_from_slice(args);
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!(
                        "ulimit -Sn {n} && ulimit -Hn {n} && exec \"$0\" \"$@\""
                    ))
                    .arg(bin)
                    .args(&all);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.args(&all);
                c
            }
        };
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the node binary runs");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let found = seqtun_testkit::process::listeners(&mut out, 2);
        let role = |want: &str| found.iter().find(|(r, _)| r == want).map(|(_, a)| *a);
        let (addr, metrics) = (role(""), role("metrics"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self {
            child,
            addr: addr.unwrap(),
            metrics: metrics.unwrap(),
            stderr,
        }
    }

    /// `VmRSS` and `VmHWM` (peak) in bytes.
    pub fn rss(&self) -> (u64, u64) {
        rss_of(self.child.id())
    }

    pub async fn stats(&self) -> Value {
        let (_, body) = super::request(self.metrics, "GET", "/stats", b"")
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` and `VmHWM` of process `pid`, in bytes.
pub fn rss_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}
