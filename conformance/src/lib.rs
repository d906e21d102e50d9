//! seqtun-conform: replays JSON wire vectors against a tunnel node or client and says, case by
//! case, whether it conforms to docs/PROTOCOL.md.
//!
//! The runner judges raw JSON and bytes with its own matchers and never with the reference
//! implementation's types: a suite that decoded replies with the reference's structs would only
//! ever agree with the reference. The reference crates appear only in `builtin` and `matrix`, to
//! start them.

pub mod app;
pub mod builtin;
pub mod case;
pub mod cli;
pub mod client;
pub mod console;
pub mod expr;
pub mod fixtures;
pub mod http;
pub mod limits;
pub mod matcher;
pub mod matrix;
pub mod node;
pub mod params;
pub mod progress;
pub mod repeat;
pub mod report;
pub mod results;
pub mod target;
pub mod vars;
pub mod vectors_dir;
pub mod verdict;
pub mod wake;
