//! Command line. With no subcommand the runner tests the built-in reference implementations;
//! `node` and `client` point it at any other implementation.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use seqtun_runtime::heading;

/// Conformance runner for the batch tunnel protocol (docs/PROTOCOL.md).
///
/// Without a subcommand: runs every vector against the in-process reference node (pipelined and
/// --legacy) and client, and prints a compatibility matrix.
#[derive(Debug, Parser)]
#[command(name = "seqtun-conform", version)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Print the version. (libtest-mimic's flattened arguments switch clap's own flag off.)
    #[arg(short = 'V', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Test a tunnel node (or a relay in front of one).
    Node(NodeArgs),
    /// Test a tunnel client: the runner plays the app and the node (or relay) it talks to.
    Client(ClientArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        shell: seqtun_runtime::completions::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// How to start the client, with placeholders {relay_url} {key} {socks} {http}, e.g.
    /// 'seqtun-client --relay {relay_url} --key {key} --socks {socks} --http {http}'.
    /// The client must print `socks5 listening on ADDR` / `http listening on ADDR`; exit code 89
    /// means "unsupported".
    #[arg(long)]
    pub cmd: String,
    /// The key to give the client (any value; the runner's fake node accepts it).
    #[arg(long, default_value = "conformance-key")]
    pub key: String,
    /// Give the client an Apps Script style URL (outer dialect) instead of a node URL.
    #[arg(long)]
    pub outer: bool,
    /// Timing parameters: seqtun, node-903, node-main, fast.
    #[arg(long, default_value = "seqtun", help_heading = heading::TIMING)]
    pub profile: String,
    /// Override one parameter (repeatable).
    #[arg(long = "param", help_heading = heading::TIMING)]
    pub params: Vec<String>,
    /// Claim a feature (repeatable).
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// Deny a feature (repeatable).
    #[arg(long = "no-feature")]
    pub no_features: Vec<String>,
    /// How the target is named in reports.
    #[arg(long)]
    pub label: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node's base URL, e.g. http://127.0.0.1:8080 (inner dialect).
    #[arg(long, help_heading = heading::UPSTREAM)]
    pub url: Option<String>,
    /// Test through a relay instead: its exec URL, e.g. https://…/macros/s/ID/exec (outer dialect).
    #[arg(long, help_heading = heading::UPSTREAM)]
    pub relay_url: Option<String>,
    /// The key the first hop checks (node key, or relay key with --relay-url).
    #[arg(long, env = "SEQTUN_KEY", hide_env_values = true, help_heading = heading::KEYS)]
    pub key: String,
    /// The same node started in diagnostic mode, for the cases that need it.
    #[arg(long)]
    pub diagnostic_url: Option<String>,
    /// The node itself runs in diagnostic mode (wrong keys get JSON, not the 404 page).
    #[arg(long)]
    pub diagnostic: bool,
    /// Timing and size parameters: seqtun, node-903, node-main, fast. Without it the runner
    /// measures the node's long-poll and picks the matching profile (else seqtun with the
    /// measured --param longpoll_deadline), and says which.
    #[arg(long, help_heading = heading::TIMING)]
    pub profile: Option<String>,
    /// Override one parameter, e.g. --param longpoll_deadline=4s (repeatable).
    #[arg(long = "param", help_heading = heading::TIMING)]
    pub params: Vec<String>,
    /// Claim a feature the probe cannot see (repeatable).
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// Deny a feature, e.g. --no-feature udp (repeatable).
    #[arg(long = "no-feature")]
    pub no_features: Vec<String>,
    /// Address the fixtures listen on; the node must reach it (default 127.0.0.1).
    #[arg(long, env = "SEQTUN_FIXTURE_ADDR", default_value = "127.0.0.1", help_heading = heading::LISTENERS)]
    pub fixture_addr: IpAddr,
    /// How the target is named in reports.
    #[arg(long)]
    pub label: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Directory holding the vectors [default: SEQTUN_VECTORS, else vectors/ next to the
    /// binary, else the source tree's vectors/].
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    /// Treat failed `should` cases as failures.
    #[arg(long)]
    pub strict: bool,
    /// Write a JSON report here.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Expected per-case results with reasons; the run fails on any unexpected result.
    #[arg(long)]
    pub expect: Option<PathBuf>,
    /// Seconds before one HTTP exchange is abandoned.
    #[arg(long, env = "SEQTUN_CONFORM_REQUEST_TIMEOUT", default_value_t = 120, help_heading = heading::TIMING)]
    pub request_timeout: u64,
    /// List the parameters vectors may use and exit.
    #[arg(long)]
    pub list_params: bool,
    #[command(flatten)]
    pub test: libtest_mimic::Arguments,
}
