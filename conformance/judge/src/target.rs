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

/// A feature a target has or lacks; vectors name the ones they need in `requires`
/// (vectors/README.md says what each means, vectors/schema.json lists the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// `caps` bit 0 on connect replies and seq-ordered `data` ops (§7); for a client, `seq`
    /// sent after `caps` bit 0.
    PipelineSeq,
    /// `seq` echoed on replies to seq'd ops (#903 and #1115).
    SeqEcho,
    Udp,
    /// `POST /tunnel`.
    SingleOp,
    /// gzip request bodies.
    Gzip,
    /// Cases reach the node's HTTP surface directly (no relay in between).
    Direct,
    /// Cases go through a relay (outer dialect).
    ViaRelay,
    /// The node answers a bad key with the nginx-like 404 page.
    Decoy404,
    /// The node runs in diagnostic mode (JSON `unauthorized`).
    Diagnostic,
    /// The client has a SOCKS5 front end.
    Socks5,
    /// The client has an HTTP CONNECT front end.
    HttpConnect,
    /// The client sends the app's first bytes with the connect.
    ConnectData,
    /// The client keeps a session open for downlink after the app shuts down its write side.
    HalfClose,
    /// `caps` bit 1: the node holds replies for retransmits (§7.10); for a client, failed ops
    /// of such sessions are sent again.
    ReplaySafe,
}

impl Feature {
    pub const ALL: [Feature; 14] = [
        Feature::PipelineSeq,
        Feature::SeqEcho,
        Feature::Udp,
        Feature::SingleOp,
        Feature::Gzip,
        Feature::Direct,
        Feature::ViaRelay,
        Feature::Decoy404,
        Feature::Diagnostic,
        Feature::Socks5,
        Feature::HttpConnect,
        Feature::ConnectData,
        Feature::HalfClose,
        Feature::ReplaySafe,
    ];

    /// The name vectors and `--feature` use.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::PipelineSeq => "pipeline-seq",
            Feature::SeqEcho => "seq-echo",
            Feature::Udp => "udp",
            Feature::SingleOp => "single-op",
            Feature::Gzip => "gzip",
            Feature::Direct => "direct",
            Feature::ViaRelay => "via-relay",
            Feature::Decoy404 => "decoy-404",
            Feature::Diagnostic => "diagnostic",
            Feature::Socks5 => "socks5",
            Feature::HttpConnect => "http-connect",
            Feature::ConnectData => "connect-data",
            Feature::HalfClose => "half-close",
            Feature::ReplaySafe => "replay-safe",
        }
    }
}

/// The feature names as constants, for the sets targets keep (`features: BTreeSet<String>`).
pub mod features {
    use super::Feature;

    pub const PIPELINE_SEQ: &str = Feature::PipelineSeq.name();
    pub const SEQ_ECHO: &str = Feature::SeqEcho.name();
    pub const UDP: &str = Feature::Udp.name();
    pub const SINGLE_OP: &str = Feature::SingleOp.name();
    pub const GZIP: &str = Feature::Gzip.name();
    pub const DIRECT: &str = Feature::Direct.name();
    pub const VIA_RELAY: &str = Feature::ViaRelay.name();
    pub const DECOY_404: &str = Feature::Decoy404.name();
    pub const DIAGNOSTIC: &str = Feature::Diagnostic.name();
    pub const SOCKS5: &str = Feature::Socks5.name();
    pub const HTTP_CONNECT: &str = Feature::HttpConnect.name();
    pub const CONNECT_DATA: &str = Feature::ConnectData.name();
    pub const HALF_CLOSE: &str = Feature::HalfClose.name();
    pub const REPLAY_SAFE: &str = Feature::ReplaySafe.name();
}

#[cfg(test)]
mod tests {
    use super::Feature;

    #[test]
    fn the_enum_is_the_schemas_list() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../vectors/schema.json")).unwrap();
        let names: Vec<&str> = schema["$defs"]["feature"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(ours, names);
    }
}
