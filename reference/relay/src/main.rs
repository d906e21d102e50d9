//! `seqtun-relay`: parse flags, start the relay, print `listening on <addr>`, serve until
//! Ctrl-C (or SIGTERM), then print the counters.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser as _;
use seqtun_relay::cli::{Args, summary};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Without --seed, a fresh seed each run; it is logged so a run can be replayed.
    let fallback_seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let cfg = match args.into_config(fallback_seed) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("seqtun-relay: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!("settings: {}", summary(&cfg));
    let relay = match seqtun_relay::spawn(cfg).await {
        Ok(relay) => relay,
        Err(e) => {
            eprintln!("seqtun-relay: {e}");
            return ExitCode::from(1);
        }
    };
    println!("listening on {}", relay.addr);
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    tracing::info!("shutting down");
    let stats = relay.shutdown().await;
    println!("stats: {}", stats.to_json_pretty());
    let _ = std::io::stdout().flush();
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
