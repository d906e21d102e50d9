//! Envelopes: the batch request and response, and the single-op forms (§1, §3).
//!
//! A node parses a batch in two steps: first the envelope (`k` and an `ops` array of raw JSON
//! values), then each op on its own. Only an unparseable envelope fails the whole batch; a bad
//! op fails alone, which keeps `len(r) == len(ops)` (§3.5).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};

/// `{k, ops}` to `/tunnel/batch` (inner) or `{k, t:"batch", ops}` to a relay (outer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
    pub ops: Vec<BatchOp>,
}

impl BatchRequest {
    /// The inner dialect, sent straight to a node.
    pub fn inner(key: &str, ops: Vec<BatchOp>) -> Self {
        Self {
            k: key.into(),
            t: None,
            ops,
        }
    }

    /// The outer dialect, sent to an Apps Script relay.
    pub fn outer(key: &str, ops: Vec<BatchOp>) -> Self {
        Self {
            k: key.into(),
            t: Some("batch".into()),
            ops,
        }
    }
}

/// The same request over borrowed ops, so a client can serialise a batch and still hold its
/// ops (to repack them if the node refuses the body as too large, §6.3).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BatchRequestRef<'a> {
    pub k: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<&'a str>,
    pub ops: &'a [BatchOp],
}

/// `{"r":[...]}`, plus `e` when a relay reports a whole-batch failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    #[serde(default)]
    pub r: Vec<Reply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl BatchResponse {
    /// A whole-batch failure as nodes report it: a one-entry `r`.
    pub fn failed(err: impl Into<String>) -> Self {
        Self {
            r: vec![Reply {
                e: Some(err.into()),
                ..Reply::default()
            }],
            e: None,
        }
    }
}

/// Serialises a batch response: the node's reply body, and what a codec bench measures
/// (`encode`: the same bytes as `serde_json`, faster).
pub fn encode_response(resp: &BatchResponse) -> Vec<u8> {
    crate::encode::response_body(resp)
}

/// Inner single-op request to `/tunnel`; the payload field is `data`, not `d` (§3.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleRequest {
    #[serde(default)]
    pub k: Option<String>,
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl SingleRequest {
    /// The same op in batch form, so one set of handlers serves both paths.
    pub fn to_batch_op(&self) -> BatchOp {
        BatchOp {
            op: self.op.clone(),
            sid: self.sid.clone(),
            host: self.host.clone(),
            port: self.port,
            d: self.data.clone(),
            seq: None,
            ack: None,
        }
    }
}

/// A batch as a node first sees it: the key and the ops still as raw JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingBatch {
    #[serde(default)]
    pub k: Option<String>,
    pub ops: Vec<Value>,
}

/// Why a whole request could not be read. `Display` is the `e` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("bad json: {0}")]
    BadJson(String),
}

impl From<EnvelopeError> for BatchResponse {
    fn from(err: EnvelopeError) -> Self {
        BatchResponse::failed(err.to_string())
    }
}

/// Parses the envelope of an inner batch.
pub fn parse_incoming(json: &[u8]) -> Result<IncomingBatch, EnvelopeError> {
    serde_json::from_slice(json).map_err(|e| EnvelopeError::BadJson(e.to_string()))
}

/// Parses one op of a batch; a malformed op becomes its own `bad op` error.
pub fn parse_op(raw: Value) -> Result<BatchOp, OpError> {
    serde_json::from_value(raw).map_err(|e| OpError::BadOp(e.to_string()))
}

/// The `seq` of a raw op when it is a valid u64, so even a rejected op can echo it (§7.3).
pub fn raw_seq(raw: &Value) -> Option<u64> {
    raw.get("seq").and_then(Value::as_u64)
}

/// Parses a single-op request body.
pub fn parse_single(json: &[u8]) -> Result<SingleRequest, EnvelopeError> {
    serde_json::from_slice(json).map_err(|e| EnvelopeError::BadJson(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_bad_op_does_not_spoil_the_envelope() {
        let batch = parse_incoming(
            br#"{"k":"x","ops":[{"op":"connect","host":"h","port":70000},{"op":"close","sid":"s"}]}"#,
        )
        .unwrap();
        let mut parsed = batch.ops.into_iter().map(parse_op);
        let first = parsed.next().unwrap().unwrap_err();
        assert!(first.to_string().starts_with("bad op: "), "{first}");
        assert_eq!(parsed.next().unwrap().unwrap(), BatchOp::close("s"));
    }

    #[test]
    fn ops_must_be_an_array() {
        let err = parse_incoming(br#"{"k":"x","ops":{}}"#).unwrap_err();
        assert!(err.to_string().starts_with("bad json: "));
        assert!(parse_incoming(b"not json").is_err());
    }

    #[test]
    fn missing_key_parses_as_none() {
        assert_eq!(parse_incoming(br#"{"ops":[]}"#).unwrap().k, None);
    }

    #[test]
    fn raw_seq_only_takes_u64() {
        assert_eq!(raw_seq(&json!({"seq": 7})), Some(7));
        assert_eq!(raw_seq(&json!({"seq": -1})), None);
        assert_eq!(raw_seq(&json!({"seq": 1.5})), None);
    }

    #[test]
    fn outer_and_inner_differ_only_in_t() {
        let ops = vec![BatchOp::close("s")];
        assert_eq!(
            serde_json::to_value(BatchRequest::inner("k", ops.clone())).unwrap(),
            json!({"k":"k","ops":[{"op":"close","sid":"s"}]})
        );
        assert_eq!(
            serde_json::to_value(BatchRequest::outer("k", ops)).unwrap(),
            json!({"k":"k","t":"batch","ops":[{"op":"close","sid":"s"}]})
        );
    }

    #[test]
    fn a_borrowed_request_serialises_like_an_owned_one() {
        let ops = vec![BatchOp::close("s"), BatchOp::data("s", b"x", Some(1))];
        let owned = serde_json::to_string(&BatchRequest::outer("k", ops.clone())).unwrap();
        let borrowed = BatchRequestRef {
            k: "k",
            t: Some("batch"),
            ops: &ops,
        };
        assert_eq!(serde_json::to_string(&borrowed).unwrap(), owned);
    }

    #[test]
    fn failed_batch_has_one_entry() {
        let v =
            serde_json::to_value(BatchResponse::from(EnvelopeError::BadJson("x".into()))).unwrap();
        assert_eq!(v, json!({"r":[{"e":"bad json: x"}]}));
    }
}
