//! The in-memory pair harness: the node's batch planner and seq'd-op machines, and the
//! client's pipeline, joined on simulated time with latency, jitter and loss (DEVELOPERS.md,
//! "The pair harness"). Protocol timing is tested here, to the millisecond and without a
//! clock; what is about sockets stays in the crates' real-socket tests and the conformance
//! vectors. Section numbers refer to docs/PROTOCOL.md.

mod batch;
mod client;
mod driver;
mod job;
mod node;
mod origin;
mod pair;

mod node_timing;
mod pipelining;
