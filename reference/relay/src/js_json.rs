//! JSON as an Apps Script relay sees it: `JSON.parse`, then `JSON.stringify`.
//!
//! A deployed relay does not forward bytes; it parses the client's body into JavaScript values
//! and serialises a new body for the node. That round trip is observable (§10.4): every number
//! becomes an IEEE-754 double (integers above 2^53 lose precision, values of 10^21 and more are
//! written as `1e+21`), duplicate keys collapse to the last value, and object keys that look
//! like array indices move to the front. An emulator that forwarded serde's view of the JSON
//! would hide exactly the effects the conformance suite must show, so this module reproduces
//! the JavaScript rules instead. Number text comes from `ryu-js`, which implements
//! ECMAScript's `Number::toString`.
//!
//! Known differences, both refused as unparseable (the decoy) where JavaScript would accept:
//! number literals beyond the double range (JavaScript reads them as `Infinity` and writes
//! `null`) and lone UTF-16 surrogate escapes (`"\ud800"`).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JavaScript value produced by `JSON.parse`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<JsValue>),
    Object(JsObject),
}

/// An object's own properties in JavaScript enumeration order: array-index keys ascending,
/// then the other keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsObject {
    entries: Vec<(String, JsValue)>,
}

/// Why a body is not JSON (JavaScript would throw a `SyntaxError`).
#[derive(Debug, thiserror::Error)]
#[error("SyntaxError: {0}")]
pub struct JsonError(String);

/// `JSON.parse` of a request body; bytes that are not UTF-8 are replaced as Apps Script's
/// text decoding does.
pub fn parse(body: &[u8]) -> Result<JsValue, JsonError> {
    let text = String::from_utf8_lossy(body);
    serde_json::from_str(&text).map_err(|e| JsonError(e.to_string()))
}

/// `JSON.stringify` of a value.
pub fn stringify(value: &JsValue) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

impl JsValue {
    /// JavaScript truthiness (`if (v)`); an absent property is `undefined`, also falsy.
    pub fn is_truthy(&self) -> bool {
        match self {
            JsValue::Null => false,
            JsValue::Bool(b) => *b,
            JsValue::Number(n) => *n != 0.0 && !n.is_nan(),
            JsValue::String(s) => !s.is_empty(),
            JsValue::Array(_) | JsValue::Object(_) => true,
        }
    }

    /// `String(v)`, as used when a value is concatenated into a message.
    pub fn to_js_string(&self) -> String {
        match self {
            JsValue::Null => "null".into(),
            JsValue::Bool(b) => b.to_string(),
            JsValue::Number(n) => number_to_string(*n),
            JsValue::String(s) => s.clone(),
            JsValue::Array(items) => items
                .iter()
                .map(|v| match v {
                    JsValue::Null => String::new(),
                    v => v.to_js_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            JsValue::Object(_) => "[object Object]".into(),
        }
    }

    /// Property `key` of an object (`undefined` for anything else).
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        match self {
            JsValue::Object(o) => o.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl JsObject {
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Adds a property at the end (or replaces the value of an existing one in place), as
    /// `obj[key] = value` does for a non-index key.
    pub fn set(&mut self, key: impl Into<String>, value: JsValue) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
        self.order();
    }

    /// Keeps only the properties `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|(k, _)| keep(k));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &JsValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Builds an object from pairs in insertion order; a repeated key keeps its first
    /// position and takes the last value, as `JSON.parse` does.
    fn from_pairs(pairs: Vec<(String, JsValue)>) -> Self {
        let mut index: HashMap<String, usize> = HashMap::with_capacity(pairs.len());
        let mut entries: Vec<(String, JsValue)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match index.get(&k) {
                Some(&i) => entries[i].1 = v,
                None => {
                    index.insert(k.clone(), entries.len());
                    entries.push((k, v));
                }
            }
        }
        let mut obj = Self { entries };
        obj.order();
        obj
    }

    /// Array-index keys first, ascending; the sort is stable, so other keys keep their order.
    fn order(&mut self) {
        self.entries
            .sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
    }
}

impl FromIterator<(String, JsValue)> for JsObject {
    fn from_iter<I: IntoIterator<Item = (String, JsValue)>>(iter: I) -> Self {
        Self::from_pairs(iter.into_iter().collect())
    }
}

/// The value of `key` as an array index (a canonical decimal below 2^32 - 1), if it is one.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

/// ECMAScript `Number::toString` for the values `JSON.stringify` writes as numbers.
pub fn number_to_string(n: f64) -> String {
    if n == 0.0 {
        // Both zeros print as "0".
        return "0".into();
    }
    ryu_js::Buffer::new().format(n).to_string()
}

fn write_value(out: &mut String, value: &JsValue) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsValue::Number(n) if n.is_finite() => out.push_str(&number_to_string(*n)),
        JsValue::Number(_) => out.push_str("null"),
        JsValue::String(s) => write_string(out, s),
        JsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        JsValue::Object(obj) => {
            out.push('{');
            for (i, (k, v)) in obj.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// `QuoteJSONString`: the two-character escapes, `\u00xx` (lowercase hex) for the other
/// control characters, everything else literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    // Runs that need no escaping (all of a base64 payload) are copied whole: per-character
    // pushes made megabyte payloads the relay's main cost.
    // Every character that needs escaping is ASCII, so a byte position is a char boundary.
    while let Some(i) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or_default();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

impl<'de> Deserialize<'de> for JsValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsVisitor)
    }
}

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = JsValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsValue, E> {
        Ok(JsValue::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsValue, E> {
        Ok(JsValue::Bool(v))
    }

    // Integer literals round to the nearest double, exactly as JavaScript reads them.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsValue, E> {
        Ok(JsValue::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<JsValue, E> {
        Ok(JsValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsValue, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, JsValue>()? {
            pairs.push((k, v));
        }
        Ok(JsValue::Object(JsObject::from_pairs(pairs)))
    }
}

pub mod probe;

#[cfg(test)]
mod tests;
