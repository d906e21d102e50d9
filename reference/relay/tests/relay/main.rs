//! Black-box tests of seqtun-relay over real loopback sockets: outer-dialect requests in, a
//! real seqtun-node (or a recording fake node) behind, upstream sockets out. Section numbers
//! refer to docs/PROTOCOL.md.

mod common;
mod upstream;

mod apps_script;
mod binary;
mod faults;
mod forwarding;
mod limits;
mod numbers;
mod redirect;
mod seed;
