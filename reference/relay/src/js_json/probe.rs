//! The relay script's key check before `JSON.parse` builds anything (§1.5).
//!
//! `JSON.parse` of a 49 MiB body builds a value for every element: a relay that parsed before
//! it compared `k` spent gigabytes on bodies without a key. The probe walks the body with serde
//! skipping every value but `k`, with JavaScript's rule for duplicate keys (the last wins), and
//! answers what the script would decide first: not JSON (the same `SyntaxError` text, since the
//! same parser finds the same fault), not an object, or the `k` to compare. Only a body with the
//! right key is then parsed in full.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::JsonError;

/// What the top of a body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Top {
    /// An object; `k` when it is a string (the last one, as in JavaScript).
    Object { k: Option<String> },
    /// Any other JSON value.
    NotObject,
}

/// Probes `body` (bytes that are not UTF-8 are replaced, as `parse` does).
pub fn probe(body: &[u8]) -> Result<Top, JsonError> {
    if !seqtun_wire::probe::nesting_within_limit(body) {
        return Err(JsonError("recursion limit exceeded".into()));
    }
    let text = String::from_utf8_lossy(body);
    let mut de = serde_json::Deserializer::from_str(&text);
    let top = de
        .deserialize_any(TopVisitor)
        .and_then(|t| de.end().map(|()| t))
        .map_err(|e| JsonError(e.to_string()))?;
    Ok(top)
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut k = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "k" {
                k = map.next_value::<KeyValue>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Top::Object { k })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
}

/// A `k` value: a string, or anything else (which never equals the key).
struct KeyValue(Option<String>);

impl<'de> serde::Deserialize<'de> for KeyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyValue, E> {
                Ok(KeyValue(Some(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyValue, E> {
                Ok(KeyValue(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyValue, E> {
                Ok(KeyValue(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyValue, E> {
                Ok(KeyValue(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyValue, E> {
                Ok(KeyValue(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyValue, E> {
                Ok(KeyValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<KeyValue, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KeyValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<KeyValue, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(KeyValue(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
