//! Typed ops, parsed once (§2), and what each asks of a node in phase 1 of a batch (§5.3).
//!
//! A node receives ops as JSON; every field is checked exactly once, here, when the raw op
//! becomes an [`Op`] (the style of mini-redis's `Command::from_frame`). A field that fails its
//! check is kept as the error it will answer with, not dropped, because *when* an error
//! surfaces is protocol: a legacy `data` op with a bad payload first looks its session up
//! (an unknown session answers eof, not `bad base64`), and a seq'd one takes its turn first
//! (§7.5). Later code never matches on an op's name or looks at a field again.
//!
//! Each op lives in its own file with its name, its parse, whether it makes a batch active,
//! and its phase-1 [`Action`]; the planner (`crate::node`) only handles actions. Adding an op
//! is a new file here, a variant of [`Op`], and (only if it needs new I/O) an action and its
//! executor arm in `seqtun-node` (DEVELOPERS.md walks through it).

pub mod close;
pub mod connect;
pub mod connect_data;
pub mod data;
pub mod malformed;
pub mod raw;
pub mod udp_data;
pub mod udp_open;
pub mod unknown;

use serde_json::Value;

use crate::b64;
use crate::op::{BatchOp, OpKind};
use crate::reply::{OpError, Reply};
use crate::rules::Rules;

pub use close::Close;
pub use connect::Connect;
pub use connect_data::ConnectData;
pub use data::Data;
pub use malformed::Malformed;
pub use udp_data::UdpData;
pub use udp_open::UdpOpen;
pub use unknown::Unknown;

/// One op of a batch (or of the single-op path), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Connect(Connect),
    ConnectData(ConnectData),
    Data(Data),
    Close(Close),
    UdpOpen(UdpOpen),
    UdpData(UdpData),
    Unknown(Unknown),
    Malformed(Malformed),
}

impl Op {
    /// Parses one raw op of a batch. An op serde cannot read (a type error, a non-object)
    /// becomes [`Op::Malformed`] and fails alone (§3.5).
    pub fn from_value(raw: Value) -> Self {
        let seq = raw.get("seq").and_then(Value::as_u64);
        let name = raw.get("op").and_then(Value::as_str).map(str::to_owned);
        let uplink = raw
            .get("d")
            .and_then(Value::as_str)
            .map_or(0, b64::decoded_len);
        match serde_json::from_value::<BatchOp>(raw) {
            Ok(op) => Self::from_wire(op),
            Err(e) => Self::Malformed(Malformed::new(e.to_string(), seq, name, uplink)),
        }
    }

    /// Validates an op already read into its wire form.
    pub fn from_wire(op: BatchOp) -> Self {
        match op.kind() {
            OpKind::Connect => Self::Connect(Connect::parse(&op)),
            OpKind::ConnectData => Self::ConnectData(ConnectData::parse(&op)),
            OpKind::Data => Self::Data(Data::parse(&op)),
            OpKind::Close => Self::Close(Close::parse(&op)),
            OpKind::UdpOpen => Self::UdpOpen(UdpOpen::parse(&op)),
            OpKind::UdpData => Self::UdpData(UdpData::parse(&op)),
            OpKind::Unknown(_) => Self::Unknown(Unknown::parse(&op)),
        }
    }

    /// The op's kind, as named on the wire (a malformed op keeps the kind its `op` named).
    pub fn kind(&self) -> OpKind<'_> {
        match self {
            Self::Connect(_) => OpKind::Connect,
            Self::ConnectData(_) => OpKind::ConnectData,
            Self::Data(_) => OpKind::Data,
            Self::Close(_) => OpKind::Close,
            Self::UdpOpen(_) => OpKind::UdpOpen,
            Self::UdpData(_) => OpKind::UdpData,
            Self::Unknown(u) => OpKind::Unknown(&u.name),
            Self::Malformed(m) => m.kind(),
        }
    }

    /// Raw payload bytes the op carries up (counters; an undecodable `d` is estimated).
    pub fn uplink_bytes(&self) -> usize {
        match self {
            Self::ConnectData(o) => o.payload.uplink(),
            Self::Data(o) => o.payload.uplink(),
            Self::UdpOpen(o) => o.payload.uplink(),
            Self::UdpData(o) => o.payload.uplink(),
            Self::Malformed(o) => o.uplink,
            Self::Connect(_) | Self::Close(_) | Self::Unknown(_) => 0,
        }
    }

    /// Whether this op makes its batch active: a connect, or a write of at least one byte
    /// (§5.3). Validity does not matter: an op that will fail still counts as it did on
    /// deployed nodes.
    pub fn is_active(&self, rules: &Rules) -> bool {
        match self {
            Self::Connect(_) | Self::ConnectData(_) => true,
            Self::Data(o) => o.is_active(rules),
            Self::UdpOpen(o) => o.payload.is_present(),
            Self::UdpData(o) => o.payload.has_bytes(),
            Self::Close(_) | Self::Unknown(_) | Self::Malformed(_) => false,
        }
    }

    /// What the op asks of a node in phase 1 of a batch (§5.3).
    pub fn action(self, rules: &Rules) -> Action {
        match self {
            Self::Connect(o) => o.action(),
            Self::ConnectData(o) => o.action(),
            Self::Data(o) => o.action(rules),
            Self::Close(o) => o.action(),
            Self::UdpOpen(o) => o.action(),
            Self::UdpData(o) => o.action(rules),
            Self::Unknown(o) => o.action(),
            Self::Malformed(o) => o.action(rules),
        }
    }
}

/// Parses every raw op of a batch.
pub fn parse_batch(raw: Vec<Value>) -> Vec<Op> {
    raw.into_iter().map(Op::from_value).collect()
}

/// What one op asks of a node in phase 1 (§5.3). The planner handles these; the executor
/// performs the I/O they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do: this is the op's reply.
    Answer(Reply),
    /// Open a session, concurrently with the rest of phase 1.
    Open(Open),
    /// Find a session and write to it inline, in batch order; drain it in phase 2.
    Write(Write),
    /// A seq'd `data` op: it takes its turn at the session's gate (§7.4).
    Job(Job),
    /// Remove a session, at its position or after the batch's drains (§7.6).
    Close { sid: String },
}

/// Which table a session lives in (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// What an open produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// `connect`: answered as soon as it opened.
    Connect,
    /// `connect_data`: first bytes written, then drained like `data`.
    ConnectData,
    /// `udp_open`: first datagram sent, then drained like `udp_data`.
    UdpOpen,
}

/// A session to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub kind: OpenKind,
    pub target: Target,
    /// Bytes to write (TCP) or the datagram to send (UDP) once open; empty: none.
    pub first: Vec<u8>,
}

/// An un-seq'd write: look `sid` up; if it is live, touch it when `touch`, write `bytes` (errors
/// are ignored, as deployed: a failed write shows up as eof), and drain it in phase 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub transport: Transport,
    pub sid: String,
    pub touch: bool,
    /// The payload, or the error a live session answers with (nothing is written then).
    pub bytes: Result<Vec<u8>, OpError>,
}

/// A seq'd `data` op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub sid: String,
    pub seq: u64,
    pub payload: Payload,
    /// The client's acknowledgement; its presence makes the session replay-safe (§7.10).
    pub ack: Option<u64>,
}

/// A decoded `d`: absent and `""` both mean no bytes (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    decoded: Result<Vec<u8>, OpError>,
    /// Raw bytes the text carries, counted without decoding (an estimate when undecodable).
    uplink: usize,
}

impl Payload {
    /// Decodes the `d` (or single-op `data`) field.
    pub fn parse(d: Option<&str>) -> Self {
        let text = d.unwrap_or_default();
        let decoded = b64::decode(text).map_err(|e| OpError::BadBase64(e.to_string()));
        Self {
            decoded,
            uplink: b64::decoded_len(text),
        }
    }

    /// Bytes already in hand (a node's own tests and the in-memory harness).
    pub fn bytes(bytes: &[u8]) -> Self {
        Self {
            decoded: Ok(bytes.to_vec()),
            uplink: bytes.len(),
        }
    }

    /// True when `d` was a non-empty text, decodable or not: the op meant to write (§5.3).
    pub fn is_present(&self) -> bool {
        !matches!(&self.decoded, Ok(b) if b.is_empty())
    }

    /// True when `d` decodes to at least one byte.
    pub fn has_bytes(&self) -> bool {
        matches!(&self.decoded, Ok(b) if !b.is_empty())
    }

    /// The bytes, or `bad base64: ...`.
    pub fn decoded(&self) -> Result<&[u8], &OpError> {
        self.decoded.as_deref()
    }

    /// The bytes, or `bad base64: ...`, by value.
    pub fn into_result(self) -> Result<Vec<u8>, OpError> {
        self.decoded
    }

    fn uplink(&self) -> usize {
        self.uplink
    }
}

/// Where a connect-like op goes: `host` non-empty (IPv6 literals may come bracketed and are
/// unbracketed here), `port` 1–65535 (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Checks `host` then `port`, in the deployed order of errors (§2.2).
    pub fn parse(op: &BatchOp) -> Result<Self, OpError> {
        let host = op
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .ok_or(OpError::MissingHost)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match op.port {
            Some(port) if port != 0 => Ok(Self {
                host: host.to_string(),
                port,
            }),
            _ => Err(OpError::InvalidPort),
        }
    }
}

/// The action of an open whose fields were checked: open it, or answer the first error.
fn open(kind: OpenKind, checked: Result<(Target, Vec<u8>), OpError>) -> Action {
    match checked {
        Ok((target, first)) => Action::Open(Open {
            kind,
            target,
            first,
        }),
        Err(e) => Action::Answer(Reply::from(e)),
    }
}

/// The `sid` of a session op, or `missing sid`.
pub fn sid_of(op: &BatchOp) -> Result<String, OpError> {
    op.sid.clone().ok_or(OpError::MissingSid)
}

#[cfg(test)]
mod tests;
