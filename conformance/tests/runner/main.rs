//! The runner as users drive it: the binary against separately started nodes, its reports and
//! `--expect`, and the proof that the vectors catch deliberately broken implementations.

mod cli;
mod client_cmd;
mod console;
mod hostile;
mod html;
mod matrix;
mod mutants;
mod processes;
mod reports;
mod standins;
mod support;
