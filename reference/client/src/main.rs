//! `seqtun-client`: parse flags, start the listeners, print `<role> listening on <addr>`, run
//! until Ctrl-C.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use seqtun_client::cli::Args;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match Args::parse().into_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("seqtun-client: {e}");
            return ExitCode::from(2);
        }
    };
    let client = match seqtun_client::spawn(cfg).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("seqtun-client: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    if let Some(addr) = client.socks {
        let _ = writeln!(out, "socks5 listening on {addr}");
    }
    if let Some(addr) = client.http {
        let _ = writeln!(out, "http listening on {addr}");
    }
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    client.shutdown().await;
    ExitCode::SUCCESS
}
