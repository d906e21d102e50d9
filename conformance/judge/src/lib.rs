//! seqtun-judge: replays JSON wire vectors against a tunnel node or client and says, case by
//! case, whether it conforms to docs/PROTOCOL.md.
//!
//! The judge grades raw JSON and bytes with its own matchers and never with the reference
//! implementation's types: a suite that decoded replies with the reference's structs would only
//! ever agree with the reference. That is why this crate depends on no seqtun crate at all (its
//! `tests/independent.rs` keeps it so), and why a third party can embed it (`cli` for the
//! arguments, `app::main_node` / `app::main_client` for whole runs) without pulling in our
//! implementations. seqtun-conform, one crate up, starts the reference targets and the
//! compatibility matrix and hands them to this judge as any other targets.

pub mod app;
pub mod case;
pub mod cli;
pub mod client;
pub mod console;
pub mod expr;
pub mod fixtures;
pub mod http;
pub mod limits;
pub mod matcher;
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
