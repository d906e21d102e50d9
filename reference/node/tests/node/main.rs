//! Black-box tests of seqtun-node over real loopback sockets: HTTP requests in, upstream
//! sockets out. Section numbers refer to docs/PROTOCOL.md.

mod common;

mod binary;
mod conns;
mod envelope;
mod faults;
mod limits;
mod memory;
mod ops;
mod pipelining_prop;
mod seq;
mod single;
mod standin;
mod stats;
mod timing;
mod udp;
