use super::*;
use crate::js_json::{self, JsValue};

/// The probe's answer agrees with what the full parse decides first. Error texts may differ
/// in detail (serde words a fault found while skipping differently, e.g. a trailing comma);
/// only diagnostic answers show them.
fn full(body: &[u8]) -> Result<Top, String> {
    match js_json::parse(body) {
        Err(e) => Err(e.to_string()),
        Ok(JsValue::Object(o)) => Ok(Top::Object {
            k: o.get("k").and_then(JsValue::as_str).map(str::to_owned),
        }),
        Ok(_) => Ok(Top::NotObject),
    }
}

#[test]
fn the_probe_decides_as_the_full_parse_does() {
    for body in [
        &br#"{"k":"a","t":"batch","ops":[1,{"x":[2]}]}"#[..],
        br#"{"k":"a","k":"b"}"#,
        br#"{"k":5,"ops":[]}"#,
        br#"{"k":["a"]}"#,
        br#"{"ops":[]}"#,
        br#"[1,2]"#,
        br#""s""#,
        br#"null"#,
        br#"{"k":"a""#,
        br#"{"k":"a"} x"#,
        br#"{"k":"\u0061"}"#,
        b"{\"k\":\"\xff\"}",
        br#"{"ops":[1,]}"#,
    ] {
        let p = probe(body).map_err(|_| ());
        let f = full(body).map_err(|_| ());
        assert_eq!(p, f, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn deep_nesting_is_refused_like_the_parser_does() {
    let deep = format!(r#"{{"k":"a","x":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    assert!(probe(deep.as_bytes()).is_err());
    assert!(full(deep.as_bytes()).is_err());
}
