//! The `seqtun-conform` command line: without a subcommand the main job tests the built-in
//! reference implementations; `node` and `client` are the judge's, pointed at any other
//! implementation. Every argument the judge takes is re-exported here, where it stood before the
//! judge became a crate of its own.

use clap::{Parser, Subcommand};

pub use seqtun_judge::cli::*;

/// Conformance runner for the batch tunnel protocol (docs/PROTOCOL.md): replays the JSON wire
/// vectors against a tunnel node or client and grades each case.
///
/// Without a subcommand it runs every vector against the in-process reference node (pipelined,
/// --legacy and behind seqtun-relay) and client, then prints a compatibility matrix.
#[derive(Debug, Parser)]
#[command(
    name = "seqtun-conform",
    version,
    after_help = "Examples:\n  seqtun-conform                                   the main job\n  seqtun-conform node --url http://127.0.0.1:8080 --key K\n  seqtun-conform node --url http://A:8080 --url http://B:8080 --key K   side by side\n  seqtun-conform client --cmd 'my-client --relay {relay_url} --key {key} --socks {socks}'\n\nExit codes: 0 every must-level case passed (or every result was expected), 1 a case or a\nmatrix cell failed, 2 a setup error (bad flags, unreadable vectors, a target that did not\nanswer the probe)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Run only the compatibility matrix, none of the cases.
    #[arg(long, conflicts_with = "matrix", help_heading = heading::SELECT)]
    pub matrix_only: bool,
    /// Run the compatibility matrix even when a FILTER selects particular cases.
    #[arg(long, help_heading = heading::SELECT)]
    pub matrix: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Test one or more tunnel nodes (directly, or through a relay in front of one).
    Node(NodeArgs),
    /// Test a tunnel client: the runner plays the app and the node (or relay) it talks to.
    Client(ClientArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        shell: seqtun_runtime::completions::Shell,
    },
}
