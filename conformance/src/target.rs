//! What the runner knows about the implementation under test: where it is, how to reach it,
//! which features it has, and its timing parameters.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::expr::Params;

/// A node under test.
#[derive(Debug, Clone)]
pub struct NodeTarget {
    /// How the target appears in reports.
    pub label: String,
    /// `http://host:port` of the node (inner dialect), when reached directly.
    pub url: String,
    /// The relay endpoint (outer dialect) when cases go through a relay.
    pub relay_url: Option<String>,
    /// The key the first hop checks.
    pub key: String,
    /// A second instance of the same node in diagnostic mode, for cases that need it.
    pub diagnostic_url: Option<String>,
    pub features: BTreeSet<String>,
    pub params: Params,
    /// Where fixtures listen; the node must be able to reach this address.
    pub fixture_ip: IpAddr,
    /// Started by the runner itself: replay commands cannot point at its (gone) port.
    pub in_process: bool,
}

impl NodeTarget {
    /// Features a case needs that the target lacks.
    pub fn missing<'a>(&self, requires: &'a [String]) -> Vec<&'a str> {
        requires
            .iter()
            .filter(|f| !self.features.contains(f.as_str()))
            .map(String::as_str)
            .collect()
    }
}

/// Feature names used by the vectors (vectors/README.md lists what each means).
pub mod features {
    /// `caps` bit 0 on connect replies and seq-ordered `data` ops (§7).
    pub const PIPELINE_SEQ: &str = "pipeline-seq";
    /// `seq` echoed on replies to seq'd ops (#903 and #1115).
    pub const SEQ_ECHO: &str = "seq-echo";
    pub const UDP: &str = "udp";
    /// `POST /tunnel`.
    pub const SINGLE_OP: &str = "single-op";
    /// gzip request bodies.
    pub const GZIP: &str = "gzip";
    /// Cases reach the node's HTTP surface directly (no relay in between).
    pub const DIRECT: &str = "direct";
    /// Cases go through a relay (outer dialect).
    pub const VIA_RELAY: &str = "via-relay";
    /// The node answers a bad key with the nginx-like 404 page.
    pub const DECOY_404: &str = "decoy-404";
    /// The node runs in diagnostic mode (JSON `unauthorized`).
    pub const DIAGNOSTIC: &str = "diagnostic";
}
