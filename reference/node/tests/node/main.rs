//! Black-box tests of seqtun-node over real loopback sockets: HTTP requests in, upstream
//! sockets out. Protocol timing (long-poll, active deadline, settle, preemption, reaping) is
//! tested exactly on simulated time in seqtun-wire's pair harness (`reference/wire/tests/pair`);
//! the conformance vectors check the same behaviours against this node over real sockets.
//! Section numbers refer to docs/PROTOCOL.md.

mod common;

mod binary;
mod conns;
mod envelope;
mod faults;
mod limits;
mod memory;
mod ops;
mod pipelining_prop;
mod replay;
mod seq;
mod single;
mod standin;
mod stats;
mod udp;
