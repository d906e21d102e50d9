//! seqtun-fuzzing: what each fuzz target checks, as plain functions of the input bytes.
//!
//! `fuzz/` (cargo-fuzz, nightly) calls these from its libFuzzer targets; `tests/replay.rs` calls
//! them on every file of the committed corpus (`fuzz/corpus/<target>/`) on stable, so CI runs
//! the same checks without nightly. Each asserts invariants, not only "no panic":
//!
//! - [`node::batch`]: the node's batch path (gzip, probe, key, typed ops, the batch itself):
//!   a valid envelope is found by the probe; with the right key `len(r) == len(ops)`; with a
//!   wrong key nginx's 404; the memory budget's books return to zero.
//! - [`node::single`]: the single-op path: one reply object, or the 404 for a wrong key.
//! - [`client::reply_body`]: the client's reading of a relay answer: the same JSON plain,
//!   wrapped in HTML, or gzipped reads the same; the decoy page is always the decoy.
//! - [`relay::js_json`]: the relay's JavaScript JSON model: `stringify(parse(x))` parses back to
//!   the same value, agrees with serde_json where both parse, and the key probe decides as the
//!   full parse.
//! - [`vectors::case`]: the vector loader: a case that loads from text loads the same from its
//!   value.
//!
//! Every target is a `fn(&[u8])` that panics on a broken invariant.

pub mod client;
pub mod node;
pub mod relay;
pub mod vectors;

/// One target's check: panics on a broken invariant.
pub type Check = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call them.
pub const TARGETS: [(&str, Check); 5] = [
    ("node_batch", node::batch),
    ("node_single", node::single),
    ("client_reply", client::reply_body),
    ("relay_js_json", relay::js_json),
    ("vector_case", vectors::case),
];
