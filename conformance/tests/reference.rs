//! `cargo test` runs the main job: every vector against the built-in reference targets. It
//! fails on any must-level failure, exactly as `cargo run --release` would.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    seqtun_conform::app::main_with(seqtun_conform::cli::Cli::parse())
}
