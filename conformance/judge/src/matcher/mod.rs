//! Matching replies against expectations, the runner's own judge.
//!
//! The default is a *subset* match: an expected object lists the fields that must be there and
//! match; a reply may carry anything else. That is the protocol's own compatibility rule
//! (unknown fields are ignored, PROTOCOL.md §3.3), so a suite that demanded exact objects would
//! fail correct peers. Objects whose keys all start with `$` are operators:
//!
//! | operator | matches |
//! |---|---|
//! | `{"$absent": true}` | the field is not there (as a field value) |
//! | `{"$present": true}` | the field is there, any value |
//! | `{"$bind": "name"}` | anything; captures it as `${name}` (if already bound: must be equal) |
//! | `{"$eq": v}` | exactly `v`, operators inside `v` not interpreted |
//! | `{"$regex": "re"}`, `{"$prefix": "s"}`, `{"$contains": "s"}` | strings |
//! | `{"$type": "string"|"number"|"integer"|"bool"|"array"|"object"|"null"}` | a JSON type |
//! | `{"$gte": n}`, `{"$lte": n}`, `{"$gt": n}`, `{"$lt": n}` (combinable) | numbers |
//! | `{"$bit": k}` | an integer with bit `k` set |
//! | `{"$b64": bytes}` | a base64 string whose decoded bytes match a byte expectation |
//! | `{"$uuid4": true}` | a lowercase hyphenated v4 UUID |
//! | `{"$len": n}` | an array or string of length `n` |
//! | `{"$each": m}`, `{"$some": m}` | every / at least one array element matches `m` |
//! | `{"$any": [m...]}`, `{"$all": [m...]}`, `{"$not": m}` | combinators |
//!
//! A field object may also carry `"$exact": true`: then no fields beyond the listed ones are
//! allowed. Arrays match element-wise and must have the same length. Literal strings may contain
//! `${name}` placeholders, resolved when compared (so a value bound earlier in the same reply
//! can be used later in it).

pub mod bytes;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::expr::Params;
use crate::vars::Vars;

/// Where and how a reply differed from the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub seen: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {}: expected {}, seen {}",
            self.path, self.expected, self.seen
        )
    }
}

/// Matching state: parameters for byte expressions and the case's bound names.
pub struct Matcher<'a> {
    pub params: &'a Params,
    pub vars: &'a mut Vars,
}

fn seen(v: Option<&Value>) -> String {
    match v {
        None => "nothing (field absent)".into(),
        Some(v) => {
            let mut out = shorten(&v.to_string(), 300);
            if let Some(payloads) = decoded_payloads(v) {
                out.push_str(&format!(" ({payloads})"));
            }
            out
        }
    }
}

/// The payloads (`d`) of a reply or a reply list, decoded for display: base64 says nothing to
/// a reader, `d = 3 bytes "BBB"` does.
pub fn decoded_payloads(v: &Value) -> Option<String> {
    let entries: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let shown: Vec<String> = entries
        .iter()
        .filter_map(|e| e.get("d").and_then(Value::as_str))
        .take(4)
        .map(decoded)
        .collect();
    (!shown.is_empty()).then(|| shown.join("; "))
}

/// `d = 3 bytes "BBB"`, or why it does not decode.
fn decoded(b64: &str) -> String {
    match STANDARD.decode(b64) {
        Ok(b) => format!("d = {}", bytes::counted(&b)),
        Err(e) => format!("d is not standard base64: {e}"),
    }
}

/// Cuts `s` to at most `max` characters (on a character boundary) for reports.
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Matcher<'_> {
    /// Matches `actual` (None: the field is absent) against `expected` at `path`.
    pub fn check(
        &mut self,
        expected: &Value,
        actual: Option<&Value>,
        path: &str,
    ) -> Result<(), Mismatch> {
        let miss = |what: String| Mismatch {
            path: if path.is_empty() {
                "$".into()
            } else {
                path.to_string()
            },
            expected: what,
            seen: seen(actual),
        };
        match expected {
            Value::Object(map)
                if !map.is_empty()
                    && map.keys().all(|k| k.starts_with('$'))
                    && !(map.len() == 1 && map.contains_key("$exact")) =>
            {
                for (op, arg) in map {
                    self.operator(op, arg, actual, path).map_err(|e| match e {
                        OpMiss::Inner(m) => m,
                        OpMiss::Here(what) => miss(what),
                    })?;
                }
                Ok(())
            }
            Value::Object(map) => {
                let Some(Value::Object(got)) = actual else {
                    return Err(miss(format!("an object {expected}")));
                };
                for (k, v) in map.iter().filter(|(k, _)| !k.starts_with('$')) {
                    self.check(v, got.get(k), &format!("{path}.{k}"))?;
                }
                if map.get("$exact") == Some(&Value::Bool(true))
                    && let Some(extra) = got.keys().find(|k| !map.contains_key(*k))
                {
                    return Err(miss(format!(
                        "no field `{extra}` (only {:?})",
                        map.keys()
                            .filter(|k| !k.starts_with('$'))
                            .collect::<Vec<_>>()
                    )));
                }
                Ok(())
            }
            Value::Array(items) => {
                let Some(Value::Array(got)) = actual else {
                    return Err(miss(format!("an array of {} items", items.len())));
                };
                if got.len() != items.len() {
                    return Err(miss(format!("{} items", items.len())));
                }
                for (i, (e, a)) in items.iter().zip(got).enumerate() {
                    self.check(e, Some(a), &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::String(s) => {
                let want = self
                    .vars
                    .substitute_text(s)
                    .map_err(|e| miss(e.to_string()))?;
                match actual {
                    Some(Value::String(a)) if *a == want => Ok(()),
                    _ => Err(miss(Value::String(want).to_string())),
                }
            }
            Value::Number(n) => match actual {
                Some(Value::Number(a)) if numbers_equal(n, a) => Ok(()),
                _ => Err(miss(n.to_string())),
            },
            other => {
                if actual == Some(other) {
                    Ok(())
                } else {
                    Err(miss(other.to_string()))
                }
            }
        }
    }

    fn operator(
        &mut self,
        op: &str,
        arg: &Value,
        actual: Option<&Value>,
        path: &str,
    ) -> Result<(), OpMiss> {
        let here = |s: String| Err(OpMiss::Here(s));
        let num = |v: Option<&Value>| v.and_then(Value::as_f64);
        let limit = || {
            arg.as_f64()
                .ok_or_else(|| OpMiss::Here(format!("{op} needs a number, got {arg}")))
        };
        match op {
            "$absent" => match actual {
                None => Ok(()),
                Some(_) => here("the field to be absent".into()),
            },
            "$present" => match actual {
                Some(_) => Ok(()),
                None => here("the field to be present".into()),
            },
            "$exact" => Ok(()),
            "$bind" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| OpMiss::Here("$bind needs a name".into()))?;
                let Some(a) = actual else {
                    return here(format!("a value to bind as `{name}`"));
                };
                match self.vars.get(name) {
                    Some(prev) if prev != a => {
                        here(format!("the value bound earlier as `{name}` ({prev})"))
                    }
                    _ => {
                        self.vars.set(name, a.clone());
                        Ok(())
                    }
                }
            }
            "$eq" => match actual {
                Some(a) if a == arg => Ok(()),
                _ => here(arg.to_string()),
            },
            "$regex" => {
                let re = regex::Regex::new(arg.as_str().unwrap_or_default())
                    .map_err(|e| OpMiss::Here(format!("a valid $regex ({e})")))?;
                match actual.and_then(Value::as_str) {
                    Some(s) if re.is_match(s) => Ok(()),
                    _ => here(format!("a string matching /{}/", re.as_str())),
                }
            }
            "$prefix" | "$contains" => {
                let want = self
                    .vars
                    .substitute_text(arg.as_str().unwrap_or_default())
                    .map_err(|e| OpMiss::Here(e.to_string()))?;
                let ok = actual.and_then(Value::as_str).is_some_and(|s| {
                    if op == "$prefix" {
                        s.starts_with(&want)
                    } else {
                        s.contains(&want)
                    }
                });
                if ok {
                    Ok(())
                } else {
                    here(format!(
                        "a string {} {want:?}",
                        if op == "$prefix" {
                            "starting with"
                        } else {
                            "containing"
                        }
                    ))
                }
            }
            "$type" => {
                let t = arg.as_str().unwrap_or_default();
                let ok = match (t, actual) {
                    ("string", Some(Value::String(_)))
                    | ("bool", Some(Value::Bool(_)))
                    | ("array", Some(Value::Array(_)))
                    | ("object", Some(Value::Object(_)))
                    | ("null", Some(Value::Null))
                    | ("number", Some(Value::Number(_))) => true,
                    ("integer", Some(Value::Number(n))) => n.is_u64() || n.is_i64(),
                    _ => false,
                };
                if ok {
                    Ok(())
                } else {
                    here(format!("a value of type {t}"))
                }
            }
            "$gte" | "$lte" | "$gt" | "$lt" => {
                let l = limit()?;
                let ok = num(actual).is_some_and(|a| match op {
                    "$gte" => a >= l,
                    "$lte" => a <= l,
                    "$gt" => a > l,
                    _ => a < l,
                });
                if ok {
                    Ok(())
                } else {
                    here(format!("a number {} {l}", &op[1..]))
                }
            }
            "$bit" => {
                let k = arg
                    .as_u64()
                    .filter(|k| *k < 64)
                    .ok_or_else(|| OpMiss::Here("$bit needs 0..63".into()))?;
                match actual.and_then(Value::as_u64) {
                    Some(a) if a & (1 << k) != 0 => Ok(()),
                    _ => here(format!("an integer with bit {k} set")),
                }
            }
            "$b64" => {
                let Some(s) = actual.and_then(Value::as_str) else {
                    return here("a base64 string".into());
                };
                let decoded = STANDARD
                    .decode(s)
                    .map_err(|e| OpMiss::Here(format!("standard padded base64 ({e})")))?;
                bytes::check(arg, &decoded, self.params).map_err(|d| {
                    OpMiss::Inner(Mismatch {
                        path: if path.is_empty() {
                            "$".into()
                        } else {
                            path.to_string()
                        },
                        expected: format!("base64 of {}", d.expected),
                        seen: format!("{} (base64 of {})", shorten(&format!("{s:?}"), 80), d.seen),
                    })
                })
            }
            "$uuid4" => match actual.and_then(Value::as_str) {
                Some(s) if is_uuid_v4(s) => Ok(()),
                _ => here("a lowercase hyphenated v4 UUID".into()),
            },
            "$len" => {
                let n = arg
                    .as_u64()
                    .ok_or_else(|| OpMiss::Here("$len needs a number".into()))?;
                let len = match actual {
                    Some(Value::Array(a)) => Some(a.len()),
                    Some(Value::String(s)) => Some(s.len()),
                    _ => None,
                };
                if len == Some(n as usize) {
                    Ok(())
                } else {
                    here(format!("length {n}"))
                }
            }
            "$each" | "$some" => {
                let Some(Value::Array(items)) = actual else {
                    return here("an array".into());
                };
                let mut last = None;
                for (i, item) in items.iter().enumerate() {
                    match self.check(arg, Some(item), &format!("{path}[{i}]")) {
                        Ok(()) if op == "$some" => return Ok(()),
                        Ok(()) => {}
                        Err(m) if op == "$each" => return Err(OpMiss::Inner(m)),
                        Err(m) => last = Some(m),
                    }
                }
                match (op, last) {
                    ("$each", _) => Ok(()),
                    (_, Some(m)) => {
                        here(format!("some element matching {arg} (closest miss: {m})"))
                    }
                    _ => here(format!("some element matching {arg} (the array is empty)")),
                }
            }
            "$any" => {
                let options = arg
                    .as_array()
                    .ok_or_else(|| OpMiss::Here("$any needs an array".into()))?;
                for o in options {
                    let snapshot = self.vars.clone();
                    if self.check(o, actual, path).is_ok() {
                        return Ok(());
                    }
                    *self.vars = snapshot;
                }
                here(format!("any of {arg}"))
            }
            "$all" => {
                for o in arg
                    .as_array()
                    .ok_or_else(|| OpMiss::Here("$all needs an array".into()))?
                {
                    self.check(o, actual, path).map_err(OpMiss::Inner)?;
                }
                Ok(())
            }
            "$not" => {
                let snapshot = self.vars.clone();
                let r = self.check(arg, actual, path);
                *self.vars = snapshot;
                match r {
                    Ok(()) => here(format!("not {arg}")),
                    Err(_) => Ok(()),
                }
            }
            other => here(format!("a known operator (`{other}` is not one)")),
        }
    }
}

enum OpMiss {
    Inner(Mismatch),
    Here(String),
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_u64(), b.as_u64()) {
        (Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

/// 36 characters, lowercase hex, hyphens at 8/13/18/23, version nibble 4, variant 8–b.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[cfg(test)]
mod tests;
