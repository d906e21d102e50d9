//! `seqtun-client`: parse flags (and `--config`), start the listeners, print `<role>
//! listening on <addr>`, run until SIGTERM or Ctrl-C, then close what is open at the node
//! within the grace period and print the final stats.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use seqtun_client::cli::{Args, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Completions { shell }) = args.command {
        seqtun_runtime::completions::print(Args::command(), shell);
        return ExitCode::SUCCESS;
    }
    // The config file is read before logging starts (it may set log_level), so its problems
    // go to stderr directly.
    let loaded = match args.load() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("seqtun-client: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = seqtun_runtime::log::init(&args.log, loaded.log_level.as_deref()) {
        eprintln!("seqtun-client: {e}");
        return ExitCode::from(2);
    }
    for key in &loaded.unknown_keys {
        tracing::warn!("--config: unknown key {key:?} ignored (a typo? the README lists the keys)");
    }
    if !loaded.ignored_keys.is_empty() {
        tracing::info!(
            "--config: mhrv-rs settings a tunnel client has no use for, ignored: {}",
            loaded.ignored_keys.join(", ")
        );
    }
    let grace = loaded.config.shutdown_grace;
    // Before `listening on`: a stop signal from then on gets the graceful stop.
    let shutdown = seqtun_runtime::signal::Shutdown::install();
    let client = match seqtun_client::spawn(loaded.config).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("seqtun-client: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    for (role, addr) in [
        ("socks5", client.socks),
        ("http", client.http),
        ("metrics", client.metrics),
    ] {
        if let Some(addr) = addr {
            let _ = writeln!(out, "{role} listening on {addr}");
        }
    }
    let _ = out.flush();
    let signal = shutdown.wait().await;
    tracing::info!(
        "{signal}: shutting down; in-flight batches get up to {}",
        seqtun_runtime::show::duration(grace)
    );
    let last = client.shutdown_within(grace).await;
    tracing::info!("final stats: {last}");
    ExitCode::SUCCESS
}
