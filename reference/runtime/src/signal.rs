//! Waiting for the operator to stop a binary: Ctrl-C (SIGINT) or SIGTERM (systemd, docker,
//! Kubernetes), whichever comes first.
//!
//! The handlers are installed by [`Shutdown::install`], before a binary says `listening on`:
//! a signal that arrives between that line and the first wait would otherwise find no handler
//! and kill the process without its graceful stop (a supervisor that stops a node as soon as it
//! is up saw exactly that).

/// Installed stop handlers.
pub struct Shutdown {
    #[cfg(unix)]
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    /// Installs the handlers; call inside the runtime, before announcing the listeners.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let handlers = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Self { handlers }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Returns the signal's name once one arrives.
    pub async fn wait(self) -> &'static str {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.handlers {
            return tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
