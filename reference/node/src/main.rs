//! `seqtun-node`: parse flags, start the node, print `listening on <addr>`, serve until Ctrl-C.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use seqtun_node::cli::{Args, summary};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let listen = args.listen_addr();
    let cfg = match args.into_config(std::env::var_os("MHRV_AUTH_KEY").is_some()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("seqtun-node: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!("settings: {}", summary(&cfg));
    let node = match seqtun_node::spawn(cfg, listen).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!(
                "seqtun-node: cannot listen on {listen}: {e} (pick another --listen or PORT)"
            );
            return ExitCode::from(1);
        }
    };
    println!("listening on {}", node.addr);
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    node.shutdown().await;
    ExitCode::SUCCESS
}
