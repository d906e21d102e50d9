//! What a running node needs to know, independent of how it was started (CLI, tests, the
//! conformance runner's in-process node).

use seqtun_runtime::conn::ConnLimits;
use seqtun_wire::params::NodeParams;

/// Where health checks are answered unless `--health-path` says otherwise (as deployed).
pub const DEFAULT_HEALTH_PATH: &str = "/health";

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
    /// Serve `GET /stats` and `GET /metrics` on the node's own port (`--metrics-on-main-port`).
    /// Off by default: they name the software, and a public port should not (§1.4).
    pub stats_on_main_port: bool,
    /// Where `GET` answers `ok` for health checks; `None` hides it (`--health-path`).
    pub health_path: Option<String>,
    /// Answer everything that does not carry the right key like nginx, malformed bodies
    /// included (`--stealth`, §1.4).
    pub stealth: bool,
    /// Connection caps and timeouts of the listener (`--header-timeout-ms`, ...).
    pub conn: ConnLimits,
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
            stats_on_main_port: false,
            health_path: Some(DEFAULT_HEALTH_PATH.into()),
            stealth: false,
            conn: ConnLimits::with_defaults(),
            faults: Faults::default(),
        }
    }
}

/// One deliberate bug each, so the conformance suite can prove that its vectors catch real
/// failures (a suite that cannot fail proves nothing), and so the reference node can stand in
/// for deployed nodes, divergences included (`standin`). Never reachable from the CLI.
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
    /// Deployed nodes' body limit: a request body over 2 MiB (axum's default) gets `413 Failed
    /// to buffer the request body: length limit exceeded` as plain text, before any parsing
    /// (wire-reference §1.4, E-17).
    pub deployed_body_limit: bool,
    /// Deployed nodes' router, which has no fallback: another method on a route gets `405` with
    /// `allow` and an empty body (`GET /tunnel/batch` reveals the endpoint), any other path an
    /// empty `404`. Only a wrong key still gets nginx's page.
    pub deployed_http_surface: bool,
    /// A body without `k` is a parse error, answered before the key check: batch `200
    /// {"r":[{"e":"bad json: missing field `k` …"}]}`, single op `422` (E-3).
    pub missing_key_is_bad_json: bool,
    /// No poll preemption (§7.7): a parked poll holds later seqs of its session until its
    /// long-poll deadline (NODE-903, E-19).
    pub no_poll_preemption: bool,
    /// Empty `udp_data` polls do not refresh a UDP session's idleness, so a receive-only flow is
    /// reaped at the UDP idle time (E-8, E-18).
    pub udp_polls_do_not_refresh: bool,
    /// The batch budget running out ends the drain loop: un-seq'd drains past it get no entry
    /// at all, so `len(r) < len(ops)` and later replies shift (NODE-MAIN, E-1).
    pub budget_gap: bool,
    /// `missing sid` on a seq'd op is answered before `seq` is read, so it carries no echo
    /// (NODE-903, measured).
    pub no_seq_on_missing_sid: bool,
    /// A seq'd op with a bad payload fails without taking its turn, so every later seq of the
    /// session waits out the seq timeout (NODE-903, E-13).
    pub bad_base64_keeps_seq: bool,
    /// One malformed op (a type error, a non-object) fails the whole batch with a one-entry
    /// `bad json` reply, as serde does on deployed nodes (E-4).
    pub whole_batch_type_errors: bool,
    /// Single-op `data` writes nothing and says nothing about an undecodable payload (§3.6).
    pub single_ignores_bad_base64: bool,
    // Mutants only, no deployed node has these: they prove that timing cases which a node
    // could pass without the behaviour they check (vacuously) do catch its absence.
    /// A pure-poll batch waits out its whole long-poll deadline, whatever becomes ready.
    pub long_poll_ignores_readiness: bool,
    /// An active seq'd op wakes when any session of its batch is ready, not only its own.
    pub active_op_waits_on_batch: bool,
    /// TCP ops without a payload (polls, seq'd or not) do not refresh a session's idleness.
    pub tcp_polls_do_not_refresh: bool,
    /// A batch body without `k` runs as if its key were right (the key is checked only when
    /// one is sent).
    pub missing_key_runs_ops: bool,
}
