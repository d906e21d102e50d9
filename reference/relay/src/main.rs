//! `seqtun-relay`: parse flags, start the relay, print `listening on <addr>`, serve until
//! Ctrl-C (or SIGTERM), then print the counters.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{CommandFactory as _, Parser as _};
use seqtun_relay::cli::{Args, Command, summary};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Completions { shell }) = args.command {
        seqtun_runtime::completions::print(Args::command(), shell);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = seqtun_runtime::log::init(&args.log, None) {
        eprintln!("seqtun-relay: {e}");
        return ExitCode::from(2);
    }
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
    // Before `listening on`: a stop signal from then on gets the graceful stop.
    let shutdown = seqtun_runtime::signal::Shutdown::install();
    let relay = match seqtun_relay::spawn(cfg).await {
        Ok(relay) => relay,
        Err(e) => {
            eprintln!("seqtun-relay: {e}");
            return ExitCode::from(1);
        }
    };
    println!("listening on {}", relay.addr);
    let _ = std::io::stdout().flush();
    let signal = shutdown.wait().await;
    tracing::info!("{signal}: shutting down");
    let stats = relay.shutdown().await;
    println!("stats: {}", stats.to_json_pretty());
    let _ = std::io::stdout().flush();
    ExitCode::SUCCESS
}
