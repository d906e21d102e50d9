//! Waiting for the operator to stop a binary: Ctrl-C (SIGINT) or SIGTERM (systemd, docker,
//! Kubernetes), whichever comes first.

/// Returns the signal's name once one arrives.
pub async fn shutdown_signal() -> &'static str {
    Shutdown::listen().wait().await
}

/// The handlers for SIGINT and SIGTERM, installed when this is created: a binary creates it
/// before it prints `listening on`, so a signal sent right after that line is never the
/// default action (an exit without the graceful stop).
pub struct Shutdown {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Returns the signal's name once one arrives.
    pub async fn wait(self) -> &'static str {
        #[cfg(unix)]
        if let (Some(mut int), Some(mut term)) = (self.int, self.term) {
            return tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
