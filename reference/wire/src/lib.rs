//! Sans-IO core of the seqtun batch tunnel protocol.
//!
//! Every decision that can be made from plain values lives here, so that it can be tested
//! without sockets or a clock and shared by the node, the client and the relay. The tokio
//! crates own the I/O and pass `now` in explicitly; nothing in this crate reads a clock,
//! spawns a task or touches the network.
//!
//! Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod b64;
pub mod body;
pub mod client;
pub mod drain;
pub mod envelope;
pub mod op;
pub mod params;
pub mod probe;
pub mod reply;
pub mod seq_gate;

pub use envelope::{BatchRequest, BatchRequestRef, BatchResponse, SingleRequest};
pub use op::{BatchOp, OpKind};
pub use reply::Reply;

/// `caps` bit 0: the node orders `data` ops by `seq` per session (§7.2).
pub const CAPS_PIPELINE_SEQ: u32 = 1 << 0;

/// Machine-readable `code` for an op the receiver does not implement (§4.3).
pub const CODE_UNSUPPORTED_OP: &str = "UNSUPPORTED_OP";
