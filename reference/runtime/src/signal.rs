//! Waiting for the operator to stop a binary: Ctrl-C (SIGINT) or SIGTERM (systemd, docker,
//! Kubernetes), whichever comes first.

/// Returns the signal's name once one arrives.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}
