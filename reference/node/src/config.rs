//! What a running node needs to know, independent of how it was started (CLI, tests, the
//! conformance runner's in-process node).

use seqtun_runtime::conn::ConnLimits;
use seqtun_wire::params::NodeParams;

/// Where health checks are answered unless `--health-path` says otherwise (as deployed).
pub const DEFAULT_HEALTH_PATH: &str = "/health";

/// The deliberate divergences a node can have; they live with the rules they change, in
/// `seqtun_wire::rules`, where `Rules::new` turns each into a decision in one place.
pub use seqtun_wire::rules::NodeFaults as Faults;

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
    /// Deliberate protocol faults: the divergences of the deployed node this one stands in for
    /// (`standin`), or the conformance suite's mutants. The CLI never sets them.
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
