//! seqtun-bench: criterion benches of the batch tunnel protocol over the real stack, in one
//! process on loopback: an origin → the node under test → `seqtun-relay` (latency R, and a
//! per-call bandwidth where the regime needs it) → `seqtun-client` → an app speaking SOCKS5.
//!
//! Nobody had published what `seq` pipelining buys. These benches measure it against the
//! performance model of the field notes (a download moves at most d·B per round trip; a
//! window-limited flow one window per round trip; an answer takes at least one round trip),
//! count the relay calls each mode spends (the users' daily quota is the scarce resource),
//! and read the node's CPU time per GiB. The node under test is pluggable
//! (`SEQTUN_BENCH_NODE_URL`), so a third-party node runs the same tables as ours.
//!
//! `bench/README.md` has the tables and how to reproduce them; `tests/smoke.rs` runs every
//! workload once at tiny sizes so the benches cannot rot.

pub mod app;
pub mod codec;
pub mod codec_table;
pub mod cpu;
pub mod goodput;
pub mod mode;
pub mod model;
pub mod node;
pub mod origin;
pub mod report;
pub mod run;
pub mod settings;
pub mod stack;
pub mod suite;
pub mod workload;

pub use mode::Mode;
pub use run::Runner;
pub use settings::Settings;
