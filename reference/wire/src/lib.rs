//! Sans-IO core of the seqtun batch tunnel protocol.
//!
//! Every decision that can be made from plain values lives here, so that it can be tested
//! without sockets or a clock and shared by the node and the client: typed ops and their
//! checks ([`ops`]), the node's batch planner and seq'd-op machine ([`node`]), the seq gate,
//! the drain arithmetic and the client's state machines ([`client`]). The tokio crates own the
//! I/O and pass `now` in explicitly; nothing in this crate reads a clock, spawns a task or
//! touches the network. The relay emulator keeps its own JavaScript-faithful JSON model (it
//! must reproduce what Apps Script does to numbers and fields) and takes only the shared
//! constants from here ([`CODE_UNSUPPORTED_OP`], [`DECOY_TEXT`]).
//!
//! Section numbers (`§N.M`) refer to `docs/PROTOCOL.md`.

pub mod b64;
pub mod body;
pub mod client;
pub mod drain;
pub mod encode;
pub mod envelope;
pub mod node;
pub mod op;
pub mod ops;
pub mod params;
pub mod probe;
pub mod reap;
pub mod replay;
pub mod reply;
pub mod rules;
pub mod seq_gate;

pub use envelope::{BatchRequest, BatchRequestRef, BatchResponse, SingleRequest};
pub use op::{BatchOp, OpKind};
pub use ops::Op;
pub use reply::Reply;

/// `caps` bit 0: the node orders `data` ops by `seq` per session (§7.2).
pub const CAPS_PIPELINE_SEQ: u32 = 1 << 0;
/// `caps` bit 1: the node holds each seq'd reply until acknowledged, so a client may send a
/// seq'd op again after its batch failed (§7.10).
pub const CAPS_REPLAY_SAFE: u32 = 1 << 1;
/// seqtun: `caps` bit 2: the node preempts parked polls (§7.7), so a client may keep several
/// polls of a session out without stalling its writes (§7.8). Meaningful only with bit 0;
/// deployed clients ignore it (they test bit 0 alone), and deployed #903 nodes, which do not
/// preempt, do not set it. Independent of bit 1.
pub const CAPS_POLL_PREEMPTION: u32 = 1 << 2;

/// Machine-readable `code` for an op the receiver does not implement (§4.3).
pub const CODE_UNSUPPORTED_OP: &str = "UNSUPPORTED_OP";
/// `code` of a seq wait timeout: the seq was not consumed, so it may be sent again (§7.4,
/// §7.10).
pub const CODE_SEQ_TIMEOUT: &str = "SEQ_TIMEOUT";
/// `code` of a retransmit whose reply the node no longer holds (§7.10).
pub const CODE_SEQ_RELEASED: &str = "SEQ_RELEASED";

/// The sentence of the Apps Script page served when a script returned nothing: what a relay
/// answers a wrong key or any exception with (§1.5). The relay emulator shows it; clients look
/// for it to say what probably went wrong.
pub const DECOY_TEXT: &str = "The script completed but did not return anything.";
