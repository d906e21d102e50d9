//! Black-box tests of seqtun-client over real loopback sockets: apps in front, a real or
//! scripted node behind. Section numbers refer to docs/PROTOCOL.md.

mod common;

mod binary;
mod curl;
mod deployed;
mod e2e;
mod faults;
mod honest;
mod limits;
mod paced;
mod pacing;
mod plain;
mod scripted;
mod transport;
