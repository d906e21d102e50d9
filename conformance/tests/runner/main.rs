//! The runner as users drive it: the binary against separately started nodes, its reports and
//! `--expect`, and the proof that the vectors catch deliberately broken implementations.

mod cli;
mod client_cmd;
mod matrix;
mod mutants;
mod standins;
mod support;
