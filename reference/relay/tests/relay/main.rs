//! Black-box tests of seqtun-relay over real loopback sockets: outer-dialect requests in, a
//! real seqtun-node (or a recording fake node) behind, upstream sockets out. The `chain*` tests
//! put a real seqtun-client in front, so an app's bytes cross the whole chain. Section numbers
//! refer to docs/PROTOCOL.md.

mod common;
mod e2e;
mod upstream;

mod apps_script;
mod binary;
mod chain;
mod chain_faults;
mod chain_replay;
mod chain_rewrites;
mod chain_seed;
mod faults;
mod forwarding;
mod hostile;
mod limits;
mod numbers;
mod redirect;
mod seed;
