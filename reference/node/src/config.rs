//! What a running node needs to know, independent of how it was started (CLI, tests, the
//! conformance runner's in-process node).

use seqtun_wire::params::NodeParams;

/// Settings of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The key clients (or the relay) must send in `k`.
    pub key: String,
    /// Answer bad keys with JSON `unauthorized` instead of the nginx-like 404 page.
    pub diagnostic: bool,
    /// Behave as a pre-#903 node: no `caps`, `seq` ignored and not echoed (§11.1).
    pub legacy: bool,
    pub params: NodeParams,
    /// Deliberate protocol faults; only the conformance suite's mutant check sets them.
    pub faults: Faults,
}

impl NodeConfig {
    /// A node with default limits and the given key.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            diagnostic: false,
            legacy: false,
            params: NodeParams::default(),
            faults: Faults::default(),
        }
    }
}

/// One deliberate bug each, so the conformance suite can prove that its vectors catch real
/// failures (a suite that cannot fail proves nothing). Never reachable from the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Replies to seq'd ops omit `seq`.
    pub no_seq_echo: bool,
    /// Seq'd ops bypass the gate entirely: writes and drains in arrival order.
    pub unordered_writes: bool,
    /// Writes wait for their turn but a seq'd op drains on arrival, as a #1115 node does.
    pub unordered_drains: bool,
    /// Batched `connect_data` replies omit `caps` (the bug reviewers caught in #903).
    pub no_caps_on_batched_connect_data: bool,
    /// The last entry of every multi-op `r` is dropped, so `len(r) != len(ops)`.
    pub short_replies: bool,
    /// `close` always runs at its position, even after a same-session seq'd op.
    pub close_before_data: bool,
    /// No reply carries `caps`, while `seq` is still echoed. With `unordered_writes` and
    /// `unordered_drains` this stands in for a #1115-era node (§11.3), which the conformance
    /// runner's compatibility matrix needs as a column.
    pub no_caps: bool,
}
