//! A run of the judge: set up targets, probe their dialects, run the cases, write reports and
//! choose the exit code: 0 when every must-level case passed (or, with `--expect`, every result
//! was expected), 1 when one did not or a required matrix cell failed, 2 for a setup error.
//!
//! `node` and `client` are whole runs against targets someone else started; a binary that has
//! targets of its own (seqtun-conform's main job) starts them inside [`with_runtime`] and hands
//! them to a [`session::Session`], so no run here needs to know any implementation.

pub mod client;
mod finish;
pub mod node;
pub mod session;
pub mod setup;

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ClientArgs, Common, NodeArgs};
use crate::console::Console;

/// Exit code for a usage or setup error (bad flags, unreadable vectors, target unreachable).
pub const EXIT_SETUP: u8 = 2;
/// Exit code after Ctrl-C or SIGTERM (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// `seqtun-conform node`: the cases against nodes started elsewhere.
pub fn main_node(args: &NodeArgs) -> ExitCode {
    with_runtime(&args.common, |rt, console| node::run(rt, args, console))
}

/// `seqtun-conform client`: the cases against a client the runner starts from `--cmd`.
pub fn main_client(args: &ClientArgs) -> ExitCode {
    with_runtime(&args.common, |rt, console| client::run(rt, args, console))
}

/// Runs `job` with what every run needs: the async runtime, the Ctrl-C handler that ends the
/// clients it started, the read limit `common` sets, and the console it asks for.
pub fn with_runtime(
    common: &Common,
    job: impl FnOnce(&tokio::runtime::Runtime, Arc<Console>) -> ExitCode,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        // Cases, fixtures and the in-process targets share these: more threads than cores, so
        // one case busy with megabytes of base64 does not hold up the timers of the others.
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return setup::error(format!("cannot start the async runtime: {e}")),
    };
    rt.spawn(interrupted());
    crate::limits::set_max_read(common.max_read_bytes);
    let console = Arc::new(console_for(common));
    job(&rt, console)
}

/// Settles a probed target's features (what its dialect implies added, what the user denied
/// removed), says what the probe found, and starts the target's report entry.
fn settle(
    console: &Console,
    (label, role): (&str, &'static str),
    (describe, short, implied): (String, &str, &[&str]),
    denied: &[String],
    features: &mut std::collections::BTreeSet<String>,
    params: &crate::expr::Params,
) -> crate::report::model::TargetInfo {
    for f in implied {
        features.insert((*f).to_string());
    }
    for f in denied {
        features.remove(f);
    }
    console.line(&format!("target {label}: {describe}"));
    crate::report::model::TargetInfo::probed(label, role, (describe, short), features, params)
}

fn console_for(common: &Common) -> Console {
    Console::stdio(common.test.format(), common.test.color)
}

/// Ctrl-C or SIGTERM: clients started from `--cmd` run in process groups of their own (so the
/// runner can end everything they fork), which the terminal's Ctrl-C does not reach; end them
/// before exiting.
async fn interrupted() {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    crate::client::group::groups::kill_all();
    eprintln!("seqtun-conform: interrupted; stopped the clients it had started");
    std::process::exit(i32::from(EXIT_INTERRUPTED));
}
