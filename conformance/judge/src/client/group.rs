//! The process group a `--cmd` client runs in, and ending it.
//!
//! The template runs under `sh -c`, and a client may fork (or the shell may, for `a && b`), so
//! killing the shell alone left one orphaned client per case behind. Each command gets a
//! process group of its own, and the whole group is killed when the case lets go of it, or when
//! the run is interrupted.

use std::sync::Arc;

use tokio::process::Child;

use super::launch::ExitSlot;

/// Keeps the child's whole process group alive; dropping it kills the group.
struct Group {
    pgid: Option<u32>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
    }
}

/// Kills every process in the group `pgid`. The kernel does not hand out a pid that is still a
/// group's id, so while any member lives this cannot hit another process.
pub(super) fn kill_group(pgid: u32) {
    groups::forget(pgid);
    #[cfg(unix)]
    if let Some(pid) = i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// The process groups of clients still running, so an interrupted run (Ctrl-C, SIGTERM) ends
/// them too: they are not in the terminal's foreground group, so its Ctrl-C never reaches them.
pub mod groups {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

    pub(in crate::client) fn remember(pgid: u32) {
        if let Ok(mut l) = LIVE.lock() {
            l.insert(pgid);
        }
    }

    pub(super) fn forget(pgid: u32) {
        if let Ok(mut l) = LIVE.lock() {
            l.remove(&pgid);
        }
    }

    /// Kills every client process group still running.
    pub fn kill_all() {
        let live: Vec<u32> = LIVE
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default();
        for pgid in live {
            super::kill_group(pgid);
        }
    }
}

/// Owns the child in a task that records its exit; the returned guard kills its group.
pub(super) fn supervise(mut child: Child, pgid: Option<u32>) -> (Box<dyn Send>, ExitSlot) {
    let exited = Arc::new(std::sync::Mutex::new(None));
    let e2 = Arc::clone(&exited);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => {
                if let Ok(mut e) = e2.lock() {
                    *e = Some(status.ok().and_then(|s| s.code()));
                }
            }
            _ = stopped => {
                let _ = child.kill().await;
            }
        }
    });
    let guard = Group {
        pgid,
        stop: Some(stop),
    };
    (Box::new(guard), exited)
}
