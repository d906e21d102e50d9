//! Starting the client under test: an external command from a template (any implementation, any
//! language), or an in-process adapter (the reference client, and its deliberately broken
//! variants in the mutant check).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Exit code a client uses to say "I do not implement what this case needs" (QUIC interop
/// runner convention): the case is reported UNSUPPORTED, not FAILED.
pub const EXIT_UNSUPPORTED: i32 = 89;

/// How long a client may take to print its `listening on` lines.
const STARTUP_LIMIT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the client reported the case unsupported (exit code 89): {0}")]
    Unsupported(String),
    #[error("the client did not start: {0}")]
    Failed(String),
}

/// Where the client listens, and what keeps it running (dropped: stopped).
pub struct Started {
    pub socks: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub guard: Box<dyn Send>,
    /// Set when an external client exits on its own, with its exit code.
    pub exited: ExitSlot,
}

impl Started {
    /// The client exited with code 89 during the case.
    pub fn said_unsupported(&self) -> bool {
        self.exited
            .lock()
            .is_ok_and(|e| *e == Some(Some(EXIT_UNSUPPORTED)))
    }
}

pub type InProcess = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Result<Started, LaunchError>> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub enum Launcher {
    /// A shell command with `{relay_url}`, `{key}`, `{socks}`, `{http}` placeholders.
    Command(String),
    InProcess(InProcess),
}

impl Launcher {
    pub async fn start(&self, relay_url: &str, key: &str) -> Result<Started, LaunchError> {
        match self {
            Launcher::InProcess(f) => f(relay_url.to_string(), key.to_string()).await,
            Launcher::Command(template) => start_command(template, relay_url, key).await,
        }
    }

    /// Which front ends the template asks for (in-process launchers offer both).
    pub fn offers(&self) -> (bool, bool) {
        match self {
            Launcher::Command(t) => (t.contains("{socks}"), t.contains("{http}")),
            Launcher::InProcess(_) => (true, true),
        }
    }
}

/// How an external client ended: `None` while running, then `Some(exit code)`.
pub type ExitSlot = Arc<std::sync::Mutex<Option<Option<i32>>>>;

/// Longest stdout line read while waiting for `listening on` (a client printing an endless
/// line must not take the runner's memory).
const MAX_LINE: u64 = 4096;
/// How much of the client's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// Keeps the child's whole process group alive; dropping it kills the group.
///
/// The template runs under `sh -c`, and a client may fork (or the shell may, for `a && b`), so
/// killing the shell alone left one orphaned client per case behind. Each command gets a
/// process group of its own, and the whole group is killed when the case lets go of it.
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
fn kill_group(pgid: u32) {
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

    pub(super) fn remember(pgid: u32) {
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
fn supervise(mut child: Child, pgid: Option<u32>) -> (Box<dyn Send>, ExitSlot) {
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

/// Reads the child's stderr to its end, keeping the last [`STDERR_TAIL`] bytes, so the client
/// never blocks on a full pipe and a failure can quote it.
fn keep_tail(mut stderr: tokio::process::ChildStderr) -> Arc<std::sync::Mutex<Vec<u8>>> {
    use tokio::io::AsyncReadExt as _;
    let tail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let t2 = Arc::clone(&tail);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf).await {
            if let Ok(mut t) = t2.lock() {
                t.extend_from_slice(&buf[..n]);
                let over = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..over);
            }
        }
    });
    tail
}

/// The last lines of what the client printed on stderr, joined for one message line.
fn tail_text(tail: &std::sync::Mutex<Vec<u8>>) -> String {
    let text = tail
        .lock()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Reads `listening on` lines until every front end the template asks for is known.
async fn listening(
    lines: &mut BufReader<tokio::process::ChildStdout>,
    want_socks: bool,
    want_http: bool,
) -> (Option<SocketAddr>, Option<SocketAddr>) {
    use tokio::io::AsyncReadExt as _;
    let (mut socks, mut http) = (None, None);
    while (want_socks && socks.is_none()) || (want_http && http.is_none()) {
        let mut raw = Vec::new();
        match (&mut *lines)
            .take(MAX_LINE)
            .read_until(b'\n', &mut raw)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&raw);
        let Some((role, addr)) = line.split_once("listening on ") else {
            continue;
        };
        let Ok(addr) = addr.trim().parse::<SocketAddr>() else {
            continue;
        };
        let role = role.trim().to_ascii_lowercase();
        if role.starts_with("socks") || (role.is_empty() && want_socks && !want_http) {
            socks = Some(addr);
        } else if role.starts_with("http") || role.is_empty() {
            http = Some(addr);
        }
    }
    (socks, http)
}

async fn start_command(template: &str, relay_url: &str, key: &str) -> Result<Started, LaunchError> {
    use tokio::io::AsyncReadExt as _;
    let (want_socks, want_http) = (template.contains("{socks}"), template.contains("{http}"));
    let cmd = template
        .replace("{relay_url}", relay_url)
        .replace("{key}", key)
        .replace("{socks}", "127.0.0.1:0")
        .replace("{http}", "127.0.0.1:0");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| LaunchError::Failed(format!("cannot run `{cmd}`: {e}")))?;
    // With process_group(0) the group's id is the shell's pid.
    let pgid = child.id().filter(|_| cfg!(unix));
    if let Some(g) = pgid {
        groups::remember(g);
    }
    let stdout = child.stdout.take();
    let tail = child.stderr.take().map(keep_tail).unwrap_or_default();
    let Some(stdout) = stdout else {
        if let Some(g) = pgid {
            kill_group(g);
        }
        return Err(LaunchError::Failed("no stdout".into()));
    };
    let mut lines = BufReader::new(stdout);
    let found = tokio::time::timeout(STARTUP_LIMIT, listening(&mut lines, want_socks, want_http));
    let found = found.await;
    // `Err` here: the time ran out (rather than stdout ending).
    let found_nothing_in_time = found.as_ref().err().map(|_| ());
    let (socks, http) = found.unwrap_or_default();
    // Keep draining stdout so the client never blocks on a full pipe.
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = lines.read(&mut buf).await {}
    });
    if (want_socks && socks.is_none()) || (want_http && http.is_none()) {
        let status = tokio::time::timeout(Duration::from_millis(500), child.wait()).await;
        if let Some(g) = pgid {
            kill_group(g);
        }
        let _ = child.start_kill();
        let status = match status {
            Ok(s) => Ok(s),
            Err(_) => tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .map_err(|_| ()),
        };
        // Give the stderr reader a moment to see the end of the pipe.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail = tail_text(&tail);
        let said = if tail.is_empty() {
            String::new()
        } else {
            format!("; its stderr ends: {tail}")
        };
        return Err(match status {
            Ok(Ok(s)) if s.code() == Some(EXIT_UNSUPPORTED) => LaunchError::Unsupported(tail),
            Ok(Ok(s)) if found_nothing_in_time.is_none() => LaunchError::Failed(format!(
                "`{cmd}` exited ({s}) without printing a `listening on` line{said}"
            )),
            _ => LaunchError::Failed(format!(
                "`{cmd}` printed no `listening on` line within {STARTUP_LIMIT:?}{said}"
            )),
        });
    }
    let (guard, exited) = supervise(child, pgid);
    Ok(Started {
        socks,
        http,
        guard,
        exited,
    })
}
