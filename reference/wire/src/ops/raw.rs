//! Ops parsed from their raw JSON text (§1.4): the node checks `k` first
//! (`crate::probe`), then borrows each op of the body as text and reads it straight into its
//! typed form, so no op ever becomes a `serde_json::Value` tree (a 60 MiB `[0,0,...]` op would
//! be a gigabyte of values). [`Op::from_value`] stays for callers that already hold values.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::b64;
use crate::op::BatchOp;
use crate::probe::ProbeError;

use super::{Malformed, Op};

/// The ops of a batch whose envelope the probe accepted, and the memory they hold once the
/// body is gone ([`held_bytes`]): what a node keeps charged to its budget while they run.
#[derive(Debug)]
pub struct ParsedOps {
    pub ops: Vec<Op>,
    pub retained: usize,
}

/// What one parsed op holds: the enum, its decoded payload and its strings. Fields the typed
/// op drops (unknown ones, padding) cost nothing once the body is freed, so they are not
/// counted: charging an op's raw text instead made a 1 MiB padded `connect` hold 1 MiB and
/// starve the next session's floor.
pub fn held_bytes(op: &Op) -> usize {
    let err = |e: &crate::reply::OpError| e.to_string().len();
    let sid = |r: &Result<String, _>| r.as_ref().map_or_else(err, String::len);
    let target = |r: &Result<super::Target, _>| r.as_ref().map_or_else(err, |t| t.host.len());
    let strings = match op {
        Op::Connect(o) => target(&o.target),
        Op::ConnectData(o) => target(&o.target),
        Op::UdpOpen(o) => target(&o.target),
        Op::Data(o) => sid(&o.sid),
        Op::UdpData(o) => sid(&o.sid),
        Op::Close(o) => sid(&o.sid),
        Op::Unknown(o) => o.name.len(),
        Op::Malformed(o) => o.detail.len() + o.kind().name().len(),
    };
    std::mem::size_of::<Op>() + op.uplink_bytes() + strings
}

/// Parses the ops of a batch body, one borrowed raw op at a time.
pub fn parse_ops(json: &[u8]) -> Result<ParsedOps, ProbeError> {
    #[derive(Deserialize)]
    struct Ops<'a> {
        #[serde(borrow)]
        ops: Vec<&'a RawValue>,
    }
    let raw: Ops<'_> =
        serde_json::from_slice(json).map_err(|e| ProbeError::BadJson(e.to_string()))?;
    let ops: Vec<Op> = raw
        .ops
        .into_iter()
        .map(|op| Op::from_raw(op.get()))
        .collect();
    let retained = ops.iter().map(held_bytes).sum();
    Ok(ParsedOps { ops, retained })
}

impl Op {
    /// One op from its JSON text; what serde cannot read becomes [`Op::Malformed`] with the
    /// `seq` it carries when that alone is a valid u64 (§7.3), as [`Op::from_value`] does.
    pub fn from_raw(raw: &str) -> Self {
        match serde_json::from_str::<BatchOp>(raw) {
            Ok(op) => Self::from_wire(op),
            Err(e) => {
                let s = serde_json::from_str::<Salvage>(raw).unwrap_or_default();
                let uplink =
                    s.d.as_ref()
                        .and_then(Scalar::text)
                        .map_or(0, b64::decoded_len);
                let name = s.op.and_then(Scalar::into_text);
                let seq = s.seq.and_then(|v| v.as_u64());
                Self::Malformed(Malformed::new(without_position(&e), seq, name, uplink))
            }
        }
    }
}

/// serde's complaint without its " at line L column C": a position inside one op's text would
/// mislead, and [`Op::from_value`] (and every vector) words the error without one.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(bare) => bare.to_owned(),
        None => text,
    }
}

/// The fields a malformed op's reply and counters need, each read only when it is a scalar:
/// anything else is skipped without being built.
#[derive(Deserialize, Default)]
struct Salvage {
    #[serde(default)]
    seq: Option<Scalar>,
    #[serde(default)]
    op: Option<Scalar>,
    #[serde(default)]
    d: Option<Scalar>,
}

enum Scalar {
    U64(u64),
    Text(String),
    Other,
}

impl Scalar {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Self::U64(v) => Some(*v),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }

    fn into_text(self) -> Option<String> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        Scalar::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Scalar, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Scalar, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn raw_ops_parse_as_their_values_do() {
        let body = br#"{"k":"x","ops":[{"op":"close","sid":"s"},{"op":"data","sid":"s","seq":4,"port":"x"},7,{"op":"data","seq":-1,"d":"aGk="},{"op":"connect","host":"h","port":70000},{"op":[1,2],"seq":3}]}"#;
        let parsed = parse_ops(body).unwrap();
        let v: Value = serde_json::from_slice(body).unwrap();
        let by_value: Vec<Op> = v["ops"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(Op::from_value)
            .collect();
        assert_eq!(parsed.ops, by_value);
        let Op::Malformed(m) = &parsed.ops[1] else {
            panic!("{:?}", parsed.ops[1]);
        };
        assert_eq!(m.seq, Some(4), "a rejected op still echoes its seq");
        assert_eq!(parsed.ops[3].uplink_bytes(), 2);
        assert_eq!(
            parsed.retained,
            parsed.ops.iter().map(held_bytes).sum::<usize>()
        );
        let padded = format!(
            r#"{{"ops":[{{"op":"connect","host":"h","port":1,"pad":"{}"}}]}}"#,
            "A".repeat(1 << 20)
        );
        let held = parse_ops(padded.as_bytes()).unwrap().retained;
        assert_eq!(
            held,
            std::mem::size_of::<Op>() + 1,
            "the padding is not held"
        );
    }

    #[test]
    fn a_duplicate_field_is_a_bad_op() {
        let parsed = parse_ops(br#"{"ops":[{"op":"close","sid":"a","sid":"b"}]}"#).unwrap();
        assert!(matches!(&parsed.ops[0], Op::Malformed(m) if m.detail.contains("duplicate")));
    }
}
