//! The node's CPU time, read from Linux's /proc: for the in-process node, the threads of its
//! own runtime (so the load generator in the same process is not counted); for an external
//! node, its process, found by `SEQTUN_BENCH_NODE_PID` or by the port it listens on.
//!
//! `schedstat` counts nanoseconds on the CPU; `stat` counts clock ticks (10 ms), which is
//! plenty for the seconds a capacity run takes. Elsewhere than Linux the readings are `None`
//! and the tables say "n/a".

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Thread ids of one runtime, recorded as its threads start.
#[derive(Debug, Clone, Default)]
pub struct ThreadSet(Arc<Mutex<Vec<u32>>>);

impl ThreadSet {
    /// Records the calling thread (call it from `on_thread_start`).
    pub fn record_current(&self) {
        if let Some(tid) = current_tid() {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(tid);
        }
    }

    /// Threads recorded so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// CPU time of every recorded thread (exited threads count as zero).
    pub fn cpu(&self) -> Option<Duration> {
        let tids = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if tids.is_empty() {
            return None;
        }
        let mut total = Duration::ZERO;
        for tid in tids {
            total += thread_cpu(tid).unwrap_or_default();
        }
        Some(total)
    }
}

fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

fn thread_cpu(tid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time (user + system) of process `pid`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are counted from its ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports in USER_HZ, 100 on every architecture it supports today.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The process listening on TCP `port` (IPv4 or IPv6), if this user may see it.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let inode = listening_inode(port)?;
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == target) {
                return Some(pid);
            }
        }
    }
    None
}

fn listening_inode(port: u16) -> Option<String> {
    const LISTEN: &str = "0A";
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == LISTEN && local_port == Some(port) {
                return Some((*inode).to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_by_its_listening_port() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(pid_listening_on(port), Some(std::process::id()));
        assert!(process_cpu(std::process::id()).is_some());
        let set = ThreadSet::default();
        set.record_current();
        // Burn a little CPU so the reading is not zero.
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(set.cpu().unwrap() > Duration::ZERO);
    }
}
