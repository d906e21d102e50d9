//! Local front ends: accept an app's connection, learn where it wants to go, and answer it in
//! its own protocol once the tunnel knows whether the destination is reachable (§6.1).
//!
//! A front end hands each handshaken connection to the session layer through [`Sessions`], so
//! it depends on no session code: sessions use front ends (to answer the app), not the other
//! way round.

pub mod http_connect;
pub mod plain;
pub mod prefixed;
pub mod socks5;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use seqtun_wire::client::FailureClass;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// What front ends need from the session layer.
pub trait Sessions: Send + Sync + 'static {
    /// The username and password the SOCKS5 front end requires, if any.
    fn socks_auth(&self) -> Option<&(String, String)>;
    /// How long an app may take over its handshake.
    fn handshake_timeout(&self) -> Duration;
    /// Runs one handshaken connection to its end.
    fn run(self: Arc<Self>, acc: Accepted) -> impl Future<Output = ()> + Send;
}

/// Where the app wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Why a handshake failed (the app has been answered where its protocol allows).
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error("{0}")]
    Protocol(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Socks5,
    /// HTTP `CONNECT`.
    Http,
    /// An absolute-form request on the HTTP listener: the session's "app" is the plain
    /// proxy's hyper client, which learns the open's outcome through the session's verdict
    /// channel, never through the stream.
    Plain,
}

impl Front {
    pub fn name(self) -> &'static str {
        match self {
            Front::Socks5 => "socks5",
            Front::Http => "http",
            Front::Plain => "http-plain",
        }
    }

    /// Whether the app can be told "connected" before the node answered (§6.7); the plain
    /// proxy has nothing to tell and always waits for the node.
    pub fn can_grant_early(self) -> bool {
        self != Front::Plain
    }

    /// Tells the app the tunnel is open.
    pub async fn grant(self, s: &mut TcpStream) -> std::io::Result<()> {
        match self {
            Front::Socks5 => socks5::reply(s, socks5::REP_SUCCEEDED).await,
            Front::Http => http_connect::answer(s, 200).await,
            Front::Plain => Ok(()),
        }
    }

    /// Tells the app why the tunnel could not open: the SOCKS5 code, or the HTTP status with
    /// `why` as its body (curl prints it with `-v`, a browser shows it).
    pub async fn refuse(
        self,
        s: &mut TcpStream,
        class: FailureClass,
        why: &str,
    ) -> std::io::Result<()> {
        match self {
            Front::Socks5 => socks5::reply(s, class.socks_reply()).await,
            Front::Http => http_connect::answer_with(s, class.http_status(), why).await,
            Front::Plain => Ok(()),
        }
    }

    /// How [`Front::refuse`] answers, for the log.
    pub fn answer_text(self, class: FailureClass) -> String {
        match self {
            Front::Socks5 => format!("SOCKS5 reply {:#04x}", class.socks_reply()),
            Front::Http | Front::Plain => format!("HTTP {}", class.http_status()),
        }
    }
}

/// A handshaken local connection.
pub struct Accepted {
    pub stream: TcpStream,
    pub target: Target,
    pub front: Front,
    /// Bytes the app sent after its request (HTTP CONNECT only).
    pub early: Vec<u8>,
    /// Where the plain proxy learns how the open went.
    pub verdict: Option<tokio::sync::oneshot::Sender<plain::Verdict>>,
}

/// A handshaken connection: one session, or a plain proxy connection (a session per request).
enum Handshaken {
    Session(Accepted),
    Plain(TcpStream, Vec<u8>),
}

async fn handshake<S: Sessions>(
    ctx: &S,
    front: Front,
    mut stream: TcpStream,
) -> Result<Handshaken, FrontError> {
    let (target, early) = match front {
        Front::Socks5 => (
            socks5::handshake(&mut stream, ctx.socks_auth()).await?,
            Vec::new(),
        ),
        Front::Http | Front::Plain => match http_connect::handshake(&mut stream).await? {
            http_connect::Head::Connect(target, early) => (target, early),
            http_connect::Head::Plain(head) => return Ok(Handshaken::Plain(stream, head)),
        },
    };
    Ok(Handshaken::Session(Accepted {
        stream,
        target,
        front,
        early,
        verdict: None,
    }))
}

/// Accepts connections until `stop` turns true, then ends every session.
pub async fn serve<S: Sessions>(
    listener: TcpListener,
    front: Front,
    ctx: Arc<S>,
    sessions: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let ctx = Arc::clone(&ctx);
                    let sessions = Arc::clone(&sessions);
                    tasks.spawn(async move {
                        let hs = tokio::time::timeout(ctx.handshake_timeout(), handshake(ctx.as_ref(), front, stream)).await;
                        let mut acc = match hs {
                            Ok(Ok(Handshaken::Session(acc))) => acc,
                            Ok(Ok(Handshaken::Plain(stream, head))) => {
                                plain::serve(ctx, sessions, stream, head).await;
                                return;
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, front = front.name(), "handshake failed: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, front = front.name(), "handshake timed out after {:?} (raise --handshake-timeout-ms)", ctx.handshake_timeout());
                                return;
                            }
                        };
                        let Ok(_permit) = sessions.try_acquire_owned() else {
                            tracing::warn!(%peer, "session limit reached; refusing (raise --max-sessions)");
                            let _ = front.refuse(&mut acc.stream, FailureClass::General, "seqtun-client: session limit reached (raise --max-sessions)").await;
                            return;
                        };
                        ctx.run(acc).await;
                    });
                }
                Err(e) => {
                    // Usually EMFILE; back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    tasks.shutdown().await;
}
