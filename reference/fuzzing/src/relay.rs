//! The relay's JavaScript JSON model (`seqtun_relay::js_json`).

use seqtun_relay::js_json::probe::{Top, probe};
use seqtun_relay::js_json::{JsValue, parse, stringify};
use serde_json::Value;

/// `JSON.stringify(JSON.parse(x))` parses back to the same value and stringifies the same;
/// where serde_json parses `x` too, both hold the same data; and the key probe decides as the
/// full parse does.
pub fn js_json(data: &[u8]) {
    let parsed = parse(data);
    let probed = probe(data);
    match (&parsed, &probed) {
        (Ok(JsValue::Object(o)), Ok(Top::Object { k })) => {
            assert_eq!(
                o.get("k").and_then(JsValue::as_str),
                k.as_deref(),
                "probe k"
            );
        }
        (Ok(JsValue::Object(_)), other) => panic!("probe {other:?} for an object"),
        (Ok(_), Ok(Top::NotObject)) | (Err(_), Err(_)) => {}
        (Ok(_), other) => panic!("probe {other:?} for a non-object"),
        // serde skips a value it does not build with fewer checks than it builds one (a
        // number beyond the double range, a lone surrogate escape): the probe may accept
        // what the parse refuses, never the reverse.
        (Err(_), Ok(_)) => {}
    }
    let Ok(v) = parsed else {
        return;
    };
    let text = stringify(&v);
    let again = parse(text.as_bytes()).expect("stringify output parses");
    assert_eq!(again, v, "round trip of {text}");
    assert_eq!(stringify(&again), text, "stringify is stable");
    if let Ok(sv) = serde_json::from_slice::<Value>(data) {
        assert!(same(&v, &sv), "JS {text} vs serde {sv}");
    }
}

/// The same data: numbers as doubles, objects as key sets (JavaScript reorders keys).
fn same(js: &JsValue, sv: &Value) -> bool {
    match (js, sv) {
        (JsValue::Null, Value::Null) => true,
        (JsValue::Bool(a), Value::Bool(b)) => a == b,
        (JsValue::Number(a), Value::Number(b)) => b.as_f64() == Some(*a),
        (JsValue::String(a), Value::String(b)) => a == b,
        (JsValue::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (JsValue::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| same(x, y)))
        }
        _ => false,
    }
}
