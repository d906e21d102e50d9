//! The reply to one op (§4), and the exact error texts a node puts in `e` (§4.2).
//!
//! Every field is optional and omitted when unset; readers ignore fields they do not know.
//! The error texts keep the deployed prefixes because clients and operators match on them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{
    CAPS_PIPELINE_SEQ, CAPS_POLL_PREEMPTION, CAPS_REPLAY_SAFE, CODE_SEQ_RELEASED, CODE_SEQ_TIMEOUT,
    CODE_UNSUPPORTED_OP, b64,
};

/// A reply entry of `r`, or the body of a single-op reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eof: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<u32>,
}

/// Why a node refused or failed one op. `Display` is the exact `e` text (§4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("missing sid")]
    MissingSid,
    #[error("missing host")]
    MissingHost,
    #[error("missing or invalid port")]
    InvalidPort,
    #[error("connect failed: {0}")]
    ConnectFailed(String),
    #[error("udp connect failed: {0}")]
    UdpConnectFailed(String),
    #[error("bad base64: {0}")]
    BadBase64(String),
    #[error("write failed: {0}")]
    WriteFailed(String),
    #[error("udp write failed: {0}")]
    UdpWriteFailed(String),
    #[error("unknown session")]
    UnknownSession,
    #[error("unknown op: {0}")]
    UnknownOp(String),
    /// seqtun: an op that is not valid JSON for its kind fails alone, not with its batch (§3.5).
    #[error("bad op: {0}")]
    BadOp(String),
    /// seqtun: more ops than the node accepts in one batch (§9).
    #[error("too many ops in batch: {count} > {limit} (raise --max-batch-ops)")]
    TooManyOps { count: usize, limit: usize },
    #[error("seq {seq} already processed (expected {expected})")]
    SeqDuplicate { seq: u64, expected: u64 },
    /// A retransmit on a replay-safe session whose reply is no longer held (§7.10).
    #[error("seq {seq} already processed (expected {expected}); its reply is no longer held")]
    SeqReleased { seq: u64, expected: u64 },
    /// The same seq is already running or waiting (a duplicated request).
    #[error("seq {seq} already in progress (expected {expected})")]
    SeqInProgress { seq: u64, expected: u64 },
    /// seqtun: too many later seqs of one session wait for a missing predecessor (§9).
    #[error(
        "seq {seq} rejected: {limit} ops of this session already wait for their turn (raise --seq-max-waiting)"
    )]
    SeqBacklog { seq: u64, limit: usize },
    #[error("seq {seq} timed out waiting for {expected} (waited {waited:?})")]
    SeqTimeout {
        seq: u64,
        expected: u64,
        waited: Duration,
    },
    /// An op's task died; the slot still gets an entry so `len(r) == len(ops)` (§3.1).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<OpError> for Reply {
    fn from(err: OpError) -> Self {
        let code = match err {
            OpError::UnknownOp(_) => Some(CODE_UNSUPPORTED_OP),
            OpError::SeqTimeout { .. } => Some(CODE_SEQ_TIMEOUT),
            OpError::SeqReleased { .. } => Some(CODE_SEQ_RELEASED),
            _ => None,
        }
        .map(str::to_string);
        Reply {
            e: Some(err.to_string()),
            code,
            ..Reply::default()
        }
    }
}

impl Reply {
    /// `{"sid":S,"eof":true}`: the session is finished or never existed.
    pub fn gone(sid: &str) -> Self {
        Self {
            sid: Some(sid.into()),
            eof: Some(true),
            ..Self::default()
        }
    }

    /// `{"sid":S,"d":B?,"eof":bool}`: a TCP drain; `d` omitted when nothing was drained.
    pub fn drained(sid: &str, bytes: &[u8], eof: bool) -> Self {
        Self {
            sid: Some(sid.into()),
            d: (!bytes.is_empty()).then(|| b64::encode(bytes)),
            eof: Some(eof),
            ..Self::default()
        }
    }

    /// `{"sid":S,"pkts":[..]?,"eof":bool}`: a UDP drain; `pkts` omitted when empty.
    pub fn datagrams<T: AsRef<[u8]>>(sid: &str, pkts: &[T], eof: bool) -> Self {
        Self {
            sid: Some(sid.into()),
            pkts: (!pkts.is_empty())
                .then(|| pkts.iter().map(|p| b64::encode(p.as_ref())).collect()),
            eof: Some(eof),
            ..Self::default()
        }
    }

    /// Sets `seq` (the echo of a seq'd op, §7.3).
    pub fn with_seq(mut self, seq: Option<u64>) -> Self {
        self.seq = seq;
        self
    }

    /// Sets `caps` (only on successful connect replies, §7.2).
    pub fn with_caps(mut self, caps: Option<u32>) -> Self {
        self.caps = caps;
        self
    }

    /// True when this reply is an error.
    pub fn is_error(&self) -> bool {
        self.e.is_some()
    }

    /// True when `eof` is present and true.
    pub fn is_eof(&self) -> bool {
        self.eof == Some(true)
    }

    /// True when `caps` advertises seq ordering (bit 0); other bits are ignored (§7.2).
    pub fn offers_pipelining(&self) -> bool {
        self.caps.is_some_and(|c| c & CAPS_PIPELINE_SEQ != 0)
    }

    /// True when a connect reply offers replay-safe seq: `caps` bits 0 and 1 (§7.10).
    pub fn offers_replay_safety(&self) -> bool {
        let both = CAPS_PIPELINE_SEQ | CAPS_REPLAY_SAFE;
        self.caps.is_some_and(|c| c & both == both)
    }

    /// True when `caps` advertises seq ordering and poll preemption (bits 0 and 2, §7.7); bit 1
    /// (replay-safe seq, §7.10) plays no part.
    pub fn offers_preemption(&self) -> bool {
        let both = CAPS_PIPELINE_SEQ | CAPS_POLL_PREEMPTION;
        self.caps.is_some_and(|c| c & both == both)
    }

    /// True when `code` says the op is unsupported (§4.3).
    pub fn is_unsupported(&self) -> bool {
        self.code.as_deref() == Some(CODE_UNSUPPORTED_OP)
    }

    /// The decoded downlink bytes (absent means none).
    pub fn payload(&self) -> Result<Vec<u8>, b64::Base64Error> {
        match self.d.as_deref() {
            None => Ok(Vec::new()),
            Some(text) => b64::decode(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_poll_reply_is_exactly_sid_and_eof() {
        let v = serde_json::to_value(Reply::drained("s", b"", false).with_seq(Some(4))).unwrap();
        assert_eq!(v, json!({"sid":"s","eof":false,"seq":4}));
    }

    #[test]
    fn unknown_op_carries_the_code() {
        let v = serde_json::to_value(Reply::from(OpError::UnknownOp("frob".into()))).unwrap();
        assert_eq!(v, json!({"e":"unknown op: frob","code":"UNSUPPORTED_OP"}));
    }

    #[test]
    fn seq_error_texts_keep_the_deployed_shape() {
        let dup = OpError::SeqDuplicate {
            seq: 3,
            expected: 5,
        };
        assert_eq!(dup.to_string(), "seq 3 already processed (expected 5)");
        let timeout = OpError::SeqTimeout {
            seq: 3,
            expected: 0,
            waited: Duration::from_secs(30),
        };
        assert_eq!(
            timeout.to_string(),
            "seq 3 timed out waiting for 0 (waited 30s)"
        );
    }

    #[test]
    fn caps_bit_zero_alone_decides() {
        let mut r = Reply::default();
        assert!(!r.offers_pipelining());
        for (caps, want) in [
            (0, false),
            (1, true),
            (2, false),
            (3, true),
            (u32::MAX, true),
        ] {
            r.caps = Some(caps);
            assert_eq!(r.offers_pipelining(), want, "caps {caps}");
        }
    }

    #[test]
    fn preemption_needs_bits_zero_and_two() {
        use crate::{
            CAPS_PIPELINE_SEQ as SEQ, CAPS_POLL_PREEMPTION as PRE, CAPS_REPLAY_SAFE as SAFE,
        };
        let mut r = Reply::default();
        assert!(!r.offers_preemption());
        for (caps, want) in [
            (SEQ, false),
            (PRE, false),
            (SEQ | SAFE, false),
            (SEQ | PRE, true),
            (SEQ | SAFE | PRE, true),
        ] {
            r.caps = Some(caps);
            assert_eq!(r.offers_preemption(), want, "caps {caps}");
        }
    }
}
