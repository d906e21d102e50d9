//! One op of a batch (§2), exactly as it travels.
//!
//! This is the form a client builds and serialises; a node validates what it receives into
//! typed [`crate::ops::Op`]s once. `op` stays a string so an op this crate has never heard of
//! can still be answered with `UNSUPPORTED_OP` while the rest of its batch runs. Optional fields are omitted when unset,
//! never `null`, because that is what every deployed peer emits (§3.2).

use serde::{Deserialize, Serialize};

use crate::b64;

/// A batch op. Unknown fields are ignored on input (§3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOp {
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// The ops of §2, plus the name of anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind<'a> {
    Connect,
    ConnectData,
    Data,
    Close,
    UdpOpen,
    UdpData,
    Unknown(&'a str),
}

impl<'a> OpKind<'a> {
    /// Classifies an op name.
    pub fn parse(name: &'a str) -> Self {
        match name {
            "connect" => Self::Connect,
            "connect_data" => Self::ConnectData,
            "data" => Self::Data,
            "close" => Self::Close,
            "udp_open" => Self::UdpOpen,
            "udp_data" => Self::UdpData,
            other => Self::Unknown(other),
        }
    }

    /// The name on the wire.
    pub const fn name(self) -> &'a str {
        match self {
            Self::Connect => "connect",
            Self::ConnectData => "connect_data",
            Self::Data => "data",
            Self::Close => "close",
            Self::UdpOpen => "udp_open",
            Self::UdpData => "udp_data",
            Self::Unknown(name) => name,
        }
    }
}

impl BatchOp {
    /// This op's kind.
    pub fn kind(&self) -> OpKind<'_> {
        OpKind::parse(&self.op)
    }

    /// The decoded payload; absent and `""` both mean no bytes (§2.1).
    pub fn payload(&self) -> Result<Vec<u8>, b64::Base64Error> {
        match self.d.as_deref() {
            None | Some("") => Ok(Vec::new()),
            Some(text) => b64::decode(text),
        }
    }

    /// True for `connect`, `connect_data` and `udp_open`: the ops whose reply brings a new sid.
    pub fn opens_session(&self) -> bool {
        matches!(
            self.kind(),
            OpKind::Connect | OpKind::ConnectData | OpKind::UdpOpen
        )
    }

    /// True when `d` is present and non-empty (an uplink write, §5.3).
    pub fn has_payload(&self) -> bool {
        self.d.as_deref().is_some_and(|d| !d.is_empty())
    }

    /// `connect{host, port}`.
    pub fn connect(host: &str, port: u16) -> Self {
        Self {
            op: OpKind::Connect.name().into(),
            host: Some(host.into()),
            port: Some(port),
            ..Self::default()
        }
    }

    /// `connect_data{host, port, d}`; `d` is always present, even when empty (§2.2).
    pub fn connect_data(host: &str, port: u16, first: &[u8]) -> Self {
        Self {
            op: OpKind::ConnectData.name().into(),
            host: Some(host.into()),
            port: Some(port),
            d: Some(b64::encode(first)),
            ..Self::default()
        }
    }

    /// `data{sid, d?, seq?}`; `d` is omitted for an empty poll.
    pub fn data(sid: &str, bytes: &[u8], seq: Option<u64>) -> Self {
        Self {
            op: OpKind::Data.name().into(),
            sid: Some(sid.into()),
            d: (!bytes.is_empty()).then(|| b64::encode(bytes)),
            seq,
            ..Self::default()
        }
    }

    /// `close{sid}`.
    pub fn close(sid: &str) -> Self {
        Self {
            op: OpKind::Close.name().into(),
            sid: Some(sid.into()),
            ..Self::default()
        }
    }

    /// `udp_open{host, port, d?}`.
    pub fn udp_open(host: &str, port: u16, first: &[u8]) -> Self {
        Self {
            op: OpKind::UdpOpen.name().into(),
            host: Some(host.into()),
            port: Some(port),
            d: (!first.is_empty()).then(|| b64::encode(first)),
            ..Self::default()
        }
    }

    /// `udp_data{sid, d?}`: one datagram, or a poll when empty.
    pub fn udp_data(sid: &str, datagram: &[u8]) -> Self {
        Self {
            op: OpKind::UdpData.name().into(),
            sid: Some(sid.into()),
            d: (!datagram.is_empty()).then(|| b64::encode(datagram)),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_fields_are_omitted_not_null() {
        let poll = serde_json::to_value(BatchOp::data("s", b"", Some(0))).unwrap();
        assert_eq!(poll, json!({"op":"data","sid":"s","seq":0}));
        let close = serde_json::to_value(BatchOp::close("s")).unwrap();
        assert_eq!(close, json!({"op":"close","sid":"s"}));
    }

    #[test]
    fn connect_data_always_carries_d() {
        let v = serde_json::to_value(BatchOp::connect_data("h", 443, b"")).unwrap();
        assert_eq!(v, json!({"op":"connect_data","host":"h","port":443,"d":""}));
    }

    #[test]
    fn unknown_fields_and_nulls_are_accepted() {
        let op: BatchOp = serde_json::from_value(
            json!({"op":"data","sid":"s","d":null,"seq":null,"_pad":"xx","wseq":3}),
        )
        .unwrap();
        assert_eq!(op, BatchOp::data("s", b"", None));
    }

    #[test]
    fn out_of_range_numbers_are_type_errors() {
        for bad in [
            json!({"op":"connect","host":"h","port":70000}),
            json!({"op":"data","sid":"s","seq":-1}),
            json!({"op":"data","sid":"s","seq":1.5}),
            json!({"op":"connect","host":"h","port":"80"}),
        ] {
            assert!(
                serde_json::from_value::<BatchOp>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(OpKind::parse("udp_data"), OpKind::UdpData);
        assert_eq!(OpKind::parse("frob"), OpKind::Unknown("frob"));
    }
}
