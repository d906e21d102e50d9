//! Byte expectations and byte sources: the same little language describes bytes a fixture
//! sends and bytes a case expects, so a vector can say "the 200 bytes the source sent" without
//! spelling them out.
//!
//! Forms: `{"text": "..."}`, `{"hex": "..."}`, `{"b64": "..."}`,
//! `{"pattern": {"len": EXPR, "seed": N}}` (deterministic filler), `{"repeat": "A", "len": EXPR}`,
//! `{"concat": [spec, ...]}`; as expectations also `{"len": EXPR}`, `{"empty": true}`,
//! `{"prefix": spec}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::expr::{Params, eval_u64};

/// Why a byte spec is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    #[error("bad byte spec {0}: {1}")]
    Spec(String, String),
}

fn bad(spec: &Value, why: impl Into<String>) -> BytesError {
    BytesError::Spec(spec.to_string(), why.into())
}

/// The deterministic filler byte at offset `i`.
pub fn pattern_byte(seed: u64, i: u64) -> u8 {
    (seed
        .wrapping_mul(131)
        .wrapping_add(i.wrapping_mul(7))
        .wrapping_add(i / 251)
        % 256) as u8
}

/// Produces the bytes a spec describes (sources and exact expectations).
pub fn produce(spec: &Value, params: &Params) -> Result<Vec<u8>, BytesError> {
    let len = |v: &Value| -> Result<u64, BytesError> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| bad(spec, "len must be a whole number")),
            Value::String(s) => eval_u64(s, params).map_err(|e| bad(spec, e.to_string())),
            _ => Err(bad(spec, "len must be a number or an expression")),
        }
    };
    if let Some(t) = spec.get("text").and_then(Value::as_str) {
        return Ok(t.as_bytes().to_vec());
    }
    if let Some(h) = spec.get("hex").and_then(Value::as_str) {
        return hex(h).ok_or_else(|| bad(spec, "not hex"));
    }
    if let Some(b) = spec.get("b64").and_then(Value::as_str) {
        return STANDARD.decode(b).map_err(|e| bad(spec, e.to_string()));
    }
    if let Some(p) = spec.get("pattern") {
        let n = len(p.get("len").ok_or_else(|| bad(spec, "pattern needs len"))?)?;
        let seed = p.get("seed").and_then(Value::as_u64).unwrap_or(0);
        return Ok((0..n).map(|i| pattern_byte(seed, i)).collect());
    }
    if let Some(r) = spec.get("repeat").and_then(Value::as_str) {
        let n = len(spec
            .get("len")
            .ok_or_else(|| bad(spec, "repeat needs len"))?)? as usize;
        return Ok(r.as_bytes().iter().copied().cycle().take(n).collect());
    }
    if let Some(parts) = spec.get("concat").and_then(Value::as_array) {
        let mut out = Vec::new();
        for p in parts {
            out.extend(produce(p, params)?);
        }
        return Ok(out);
    }
    Err(bad(
        spec,
        "expected one of text, hex, b64, pattern, repeat, concat",
    ))
}

/// How bytes differed from an expectation, in words a report prints as
/// `expected 1 byte, seen 5 bytes "hello"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub expected: String,
    pub seen: String,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}, seen {}", self.expected, self.seen)
    }
}

fn diff(expected: String, seen: String) -> Diff {
    Diff { expected, seen }
}

/// `5 bytes "hello"`, `1 byte "a"`, `no bytes`.
pub fn counted(b: &[u8]) -> String {
    match b.len() {
        0 => "no bytes".into(),
        n => format!("{} {}", amount(n as u64), describe(b)),
    }
}

/// `1 byte`, `5 bytes`.
pub fn amount(n: u64) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// Checks `got` against an expectation; `Err` says what was expected and what was seen.
pub fn check(spec: &Value, got: &[u8], params: &Params) -> Result<(), Diff> {
    let spec_err = |e: String| diff(format!("a valid byte spec {spec}"), e);
    if spec.get("empty").and_then(Value::as_bool) == Some(true) {
        return if got.is_empty() {
            Ok(())
        } else {
            Err(diff("no bytes".into(), counted(got)))
        };
    }
    if let (Some(l), 1) = (spec.get("len"), spec.as_object().map_or(0, |m| m.len())) {
        let want = match l {
            Value::String(s) => eval_u64(s, params).map_err(|e| spec_err(e.to_string()))?,
            other => other
                .as_u64()
                .ok_or_else(|| spec_err("len must be a whole number".into()))?,
        };
        return if got.len() as u64 == want {
            Ok(())
        } else {
            Err(diff(amount(want), counted(got)))
        };
    }
    if let Some(p) = spec.get("prefix") {
        let want = produce(p, params).map_err(|e| spec_err(e.to_string()))?;
        return if got.starts_with(&want) {
            Ok(())
        } else {
            Err(diff(
                format!("bytes starting with {}", describe(&want)),
                counted(got),
            ))
        };
    }
    let want = produce(spec, params).map_err(|e| spec_err(e.to_string()))?;
    if got == want.as_slice() {
        return Ok(());
    }
    let at = got.iter().zip(&want).position(|(a, b)| a != b);
    Err(match at {
        Some(0) => diff(counted(&want), counted(got)),
        Some(i) => diff(
            format!(
                "{}, from offset {i}: {}",
                amount(want.len() as u64),
                describe(&want[i..])
            ),
            format!(
                "{}, from offset {i}: {}",
                amount(got.len() as u64),
                describe(&got[i..])
            ),
        ),
        None => diff(
            counted(&want),
            format!("{} (the shorter is a prefix of the longer)", counted(got)),
        ),
    })
}

/// Longest rendering of bytes in a report, in characters.
const DESCRIBE_MAX: usize = 48;

/// A short printable rendering of bytes for reports: quoted text when the bytes are text
/// (UTF-8 without control characters other than tab, CR and LF), else hex.
pub fn describe(b: &[u8]) -> String {
    let texty = |s: &str| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    };
    match std::str::from_utf8(b) {
        Ok(s) if texty(s) => quoted(s, DESCRIBE_MAX),
        // A cut inside a multi-byte character still reads as text.
        Err(e) if e.error_len().is_none() && texty(&String::from_utf8_lossy(b)) => quoted(
            &String::from_utf8_lossy(&b[..e.valid_up_to()]),
            DESCRIBE_MAX,
        ),
        _ => {
            let head = &b[..b.len().min(DESCRIBE_MAX / 2)];
            let more = if b.len() > head.len() { "…" } else { "" };
            let h: String = head.iter().map(|c| format!("{c:02x}")).collect();
            format!("hex {h}{more}")
        }
    }
}

/// An HTTP body as a report shows it: always as (lossy) text, quoted and cut, never as hex, so
/// an HTML page a target answered with is readable.
pub fn body_text(b: &[u8]) -> String {
    if b.is_empty() {
        return "an empty body".into();
    }
    format!(
        "{} {}",
        amount(b.len() as u64),
        quoted(&String::from_utf8_lossy(b), BODY_MAX)
    )
}

/// Longest rendering of an HTTP body in a report, in characters.
pub const BODY_MAX: usize = 300;

fn quoted(s: &str, max: usize) -> String {
    let cut = super::shorten(s, max);
    let (text, more) = match cut.strip_suffix('…') {
        Some(t) if cut.len() != s.len() => (t.to_string(), "…"),
        _ => (cut, ""),
    };
    format!("{text:?}{more}")
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p() -> Params {
        [("drain_max".to_string(), 8.0)].into_iter().collect()
    }

    #[test]
    fn produce_forms() {
        assert_eq!(produce(&json!({"text":"hi"}), &p()).unwrap(), b"hi");
        assert_eq!(
            produce(&json!({"hex":"00 ff"}), &p()).unwrap(),
            vec![0, 255]
        );
        assert_eq!(produce(&json!({"b64":"aGk="}), &p()).unwrap(), b"hi");
        assert_eq!(
            produce(&json!({"repeat":"ab","len":"drain_max - 3"}), &p()).unwrap(),
            b"ababa"
        );
        let pat = produce(&json!({"pattern":{"len":300,"seed":2}}), &p()).unwrap();
        assert_eq!(pat.len(), 300);
        assert_eq!(pat[7], pattern_byte(2, 7));
        let cat = produce(&json!({"concat":[{"text":"a"},{"hex":"62"}]}), &p()).unwrap();
        assert_eq!(cat, b"ab");
        assert!(produce(&json!({"hex":"0"}), &p()).is_err());
        assert!(produce(&json!({"nope":1}), &p()).is_err());
    }

    #[test]
    fn check_forms() {
        assert!(check(&json!({"text":"hi"}), b"hi", &p()).is_ok());
        let err = check(&json!({"text":"hello"}), b"help!", &p()).unwrap_err();
        assert!(err.to_string().contains("offset 3"), "{err}");
        assert!(
            check(&json!({"text":"hi"}), b"hi!", &p())
                .unwrap_err()
                .to_string()
                .contains("prefix")
        );
        assert!(check(&json!({"len":"drain_max"}), &[0; 8], &p()).is_ok());
        assert!(check(&json!({"len":9}), &[0; 8], &p()).is_err());
        assert!(check(&json!({"empty":true}), b"", &p()).is_ok());
        assert!(check(&json!({"empty":true}), b"x", &p()).is_err());
        assert!(check(&json!({"prefix":{"text":"ab"}}), b"abc", &p()).is_ok());
        assert!(check(&json!({"prefix":{"text":"b"}}), b"abc", &p()).is_err());
    }

    /// The issue's example: a report says `expected 1 byte, seen 5`, never `expected:
    /// expected ...`.
    #[test]
    fn differences_read_as_expected_and_seen() {
        let d = check(&json!({"len": 1}), b"hello", &p()).unwrap_err();
        assert_eq!(d.to_string(), r#"expected 1 byte, seen 5 bytes "hello""#);
        let d = check(&json!({"text": "A"}), b"BBB", &p()).unwrap_err();
        assert_eq!(d.to_string(), r#"expected 1 byte "A", seen 3 bytes "BBB""#);
        let d = check(&json!({"empty": true}), &[0, 1], &p()).unwrap_err();
        assert_eq!(d.to_string(), "expected no bytes, seen 2 bytes hex 0001");
    }

    #[test]
    fn bodies_are_text_never_hex() {
        let page = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>nginx</body>";
        let shown = body_text(page.as_bytes());
        assert!(
            shown.contains("404 Not Found") && !shown.contains("hex"),
            "{shown}"
        );
        let long = "x".repeat(5000);
        assert!(body_text(long.as_bytes()).chars().count() < BODY_MAX + 30);
        assert_eq!(describe("a\nb".as_bytes()), r#""a\nb""#);
    }
}
