//! What the `seqtun-conform` binary does: the judge's `node` and `client` runs, or, without a
//! subcommand, the main job against the built-in reference targets (`builtin.rs`).

mod builtin;

use std::process::ExitCode;

pub use seqtun_judge::app::{
    EXIT_INTERRUPTED, EXIT_SETUP, client, main_client, main_node, node, session, setup,
    with_runtime,
};

use crate::cli::{Cli, Cmd};

pub fn main_with(cli: Cli) -> ExitCode {
    match &cli.cmd {
        None => with_runtime(&cli.common, |rt, console| builtin::run(rt, &cli, console)),
        Some(Cmd::Node(args)) => main_node(args),
        Some(Cmd::Client(args)) => main_client(args),
        Some(Cmd::Completions { shell }) => {
            seqtun_runtime::completions::print(<Cli as clap::CommandFactory>::command(), *shell);
            ExitCode::SUCCESS
        }
    }
}
