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

use super::group::{groups, kill_group, supervise};

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
    let timed_out = found.is_err();
    let (socks, http) = found.unwrap_or_default();
    // Keep draining stdout so the client never blocks on a full pipe.
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = lines.read(&mut buf).await {}
    });
    if (want_socks && socks.is_none()) || (want_http && http.is_none()) {
        return Err(not_started(child, pgid, &tail, &cmd, timed_out).await);
    }
    let (guard, exited) = supervise(child, pgid);
    Ok(Started {
        socks,
        http,
        guard,
        exited,
    })
}

/// Why a client that printed no (or not every) `listening on` line did not start: it exited
/// (89: unsupported; else its status), or the time ran out; with the end of its stderr. Its
/// group is ended first.
async fn not_started(
    mut child: Child,
    pgid: Option<u32>,
    tail: &std::sync::Mutex<Vec<u8>>,
    cmd: &str,
    timed_out: bool,
) -> LaunchError {
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
    let tail = tail_text(tail);
    let said = if tail.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends: {tail}")
    };
    match status {
        Ok(Ok(s)) if s.code() == Some(EXIT_UNSUPPORTED) => LaunchError::Unsupported(tail),
        Ok(Ok(s)) if !timed_out => LaunchError::Failed(format!(
            "`{cmd}` exited ({s}) without printing a `listening on` line{said}"
        )),
        _ => LaunchError::Failed(format!(
            "`{cmd}` printed no `listening on` line within {STARTUP_LIMIT:?}{said}"
        )),
    }
}
