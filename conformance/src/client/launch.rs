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

/// Owns the child in a task that records its exit and kills it when the guard is dropped.
fn supervise(mut child: Child) -> (Box<dyn Send>, ExitSlot) {
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
    (Box::new(stop), exited)
}

async fn start_command(template: &str, relay_url: &str, key: &str) -> Result<Started, LaunchError> {
    let (want_socks, want_http) = (template.contains("{socks}"), template.contains("{http}"));
    let cmd = template
        .replace("{relay_url}", relay_url)
        .replace("{key}", key)
        .replace("{socks}", "127.0.0.1:0")
        .replace("{http}", "127.0.0.1:0");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| LaunchError::Failed(format!("cannot run `{cmd}`: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| LaunchError::Failed("no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut socks, mut http) = (None, None);
    let read = async {
        while (want_socks && socks.is_none()) || (want_http && http.is_none()) {
            let Ok(Some(line)) = lines.next_line().await else {
                break;
            };
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
    };
    let _ = tokio::time::timeout(STARTUP_LIMIT, read).await;
    // Keep draining stdout so the client never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    if (want_socks && socks.is_none()) || (want_http && http.is_none()) {
        let _ = child.start_kill();
        let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use tokio::io::AsyncReadExt as _;
            let _ = tokio::time::timeout(Duration::from_secs(1), e.read_to_string(&mut err)).await;
        }
        let tail: String = err
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(match status {
            Ok(Ok(s)) if s.code() == Some(EXIT_UNSUPPORTED) => LaunchError::Unsupported(tail),
            _ => LaunchError::Failed(format!(
                "`{cmd}` printed no `listening on` line within {STARTUP_LIMIT:?}: {tail}"
            )),
        });
    }
    let (guard, exited) = supervise(child);
    Ok(Started {
        socks,
        http,
        guard,
        exited,
    })
}
