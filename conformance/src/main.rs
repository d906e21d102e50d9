//! `seqtun-conform`: see `seqtun-conform --help` and the README.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    seqtun_conform::app::main_with(seqtun_conform::cli::Cli::parse())
}
