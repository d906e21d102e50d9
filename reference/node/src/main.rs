//! `seqtun-node`: parse flags, start the node, print `listening on <addr>`, serve until
//! SIGTERM or Ctrl-C, then finish in-flight batches within the grace period and print the
//! final stats.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory as _, Parser as _};
use seqtun_node::cli::{Args, Command, summary};
use seqtun_runtime::metrics::StatsSource;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Completions { shell }) = args.command {
        seqtun_runtime::completions::print(Args::command(), shell);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = seqtun_runtime::log::init(&args.log, None) {
        eprintln!("seqtun-node: {e}");
        return ExitCode::from(2);
    }
    match seqtun_runtime::conn::fd_limit::raise() {
        Ok(l) => tracing::info!(
            before = l.before,
            soft = l.soft,
            hard = l.hard,
            "file descriptor limit: {} (soft raised to the hard limit)",
            l.soft
        ),
        Err(e) => tracing::warn!(error = %e, "could not read the file descriptor limit"),
    }
    let listen = args.listen_addr();
    let cfg = match args.into_config(std::env::var_os("MHRV_AUTH_KEY").is_some()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("seqtun-node: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!("settings: {}", summary(&cfg));
    // Before `listening on`: a stop signal from then on gets the graceful stop.
    let shutdown = seqtun_runtime::signal::Shutdown::install();
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
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = args.metrics {
        let source: Arc<dyn StatsSource> = Arc::clone(&node.state) as Arc<dyn StatsSource>;
        match seqtun_runtime::metrics::listen(addr, source, metrics_stopped).await {
            Ok((local, _)) => println!("metrics listening on {local}"),
            Err(e) => {
                eprintln!(
                    "seqtun-node: cannot listen on {addr} for --metrics: {e} (pick another address or port 0)"
                );
                return ExitCode::from(1);
            }
        }
    }
    let _ = std::io::stdout().flush();
    let stats_task = (args.stats_secs > 0).then(|| {
        tokio::spawn(seqtun_node::server::stats_forever(
            Arc::clone(&node.state),
            Duration::from_secs(args.stats_secs),
        ))
    });
    let signal = shutdown.wait().await;
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    tracing::info!(
        "{signal}: shutting down; in-flight batches get up to {}",
        seqtun_runtime::show::duration(grace)
    );
    if let Some(t) = stats_task {
        t.abort();
    }
    let before = node.state.snapshot();
    let up = before.uptime_secs.max(1) as f64;
    let last = node.shutdown_within(grace).await;
    let _ = stop_metrics.send(true);
    tracing::info!("final stats: {}", last.line(&Default::default(), up));
    ExitCode::SUCCESS
}
