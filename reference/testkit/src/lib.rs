//! seqtun-testkit: the test helpers the reference crates (node, client, relay) share, so each
//! lives once: origin servers on loopback ([`origin`]), a SOCKS5 test client ([`socks5`]), the
//! deterministic byte pattern tests send and check ([`pattern()`]), and reading the `listening on`
//! line every binary prints ([`process`]). Helpers that know a crate's own types stay in that
//! crate's `tests/`.
//!
//! Everything here panics on failure: it runs inside tests, where a panic is the report.

pub mod origin;
pub mod process;
pub mod socks5;

mod pattern;

pub use pattern::pattern;
