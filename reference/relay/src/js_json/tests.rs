use super::*;

/// What `JSON.stringify(JSON.parse(input))` prints in a JavaScript engine.
fn js(input: &str) -> String {
    stringify(&parse(input.as_bytes()).unwrap())
}

#[test]
fn integers_above_2_pow_53_lose_precision() {
    assert_eq!(js("9007199254740992"), "9007199254740992");
    assert_eq!(js("9007199254740993"), "9007199254740992");
    assert_eq!(js("9007199254740995"), "9007199254740996");
    assert_eq!(js("18446744073709551615"), "18446744073709552000");
    assert_eq!(js("-9007199254740993"), "-9007199254740992");
}

#[test]
fn large_values_use_exponent_form_from_1e21() {
    assert_eq!(js("999999999999999900000"), "999999999999999900000");
    assert_eq!(js("1e21"), "1e+21");
    assert_eq!(js("1000000000000000000000"), "1e+21");
    assert_eq!(
        js("123456789012345678901234567890"),
        "1.2345678901234568e+29"
    );
}

#[test]
fn other_numbers_print_as_javascript_does() {
    for (input, want) in [
        ("0", "0"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("1.0", "1"),
        ("1E2", "100"),
        ("1.5", "1.5"),
        ("0.1", "0.1"),
        ("0.000001", "0.000001"),
        ("1e-7", "1e-7"),
        ("65535", "65535"),
        ("4294967296", "4294967296"),
    ] {
        assert_eq!(js(input), want, "{input}");
    }
}

#[test]
fn strings_are_escaped_like_quote_json_string() {
    assert_eq!(
        js(r#""a\"b\\c\/d\b\f\n\r\t\u0001\u001F\u007f\u00e9\u2028""#),
        "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é\u{2028}\""
    );
}

#[test]
fn object_keys_follow_javascript_enumeration_order() {
    assert_eq!(
        js(r#"{"b":1,"a":2,"10":3,"2":4,"01":5,"4294967295":6,"4294967294":7}"#),
        r#"{"2":4,"10":3,"4294967294":7,"b":1,"a":2,"01":5,"4294967295":6}"#
    );
}

#[test]
fn a_repeated_key_keeps_its_first_place_and_last_value() {
    assert_eq!(js(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
}

#[test]
fn structure_whitespace_and_literals_survive() {
    assert_eq!(
        js(" { \"ops\" : [ {\"op\":\"data\",\"seq\":0,\"x\":null,\"y\":true,\"z\":[]} ] } "),
        r#"{"ops":[{"op":"data","seq":0,"x":null,"y":true,"z":[]}]}"#
    );
}

#[test]
fn non_json_is_a_syntax_error() {
    for bad in ["", "{", "{\"a\":}", "nope", "\u{feff}{}", "[1,]", "1e400"] {
        let err = parse(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("SyntaxError: "), "{bad}: {err}");
    }
}

#[test]
fn invalid_utf8_is_replaced_not_refused() {
    let v = parse(b"\"a\xffb\"").unwrap();
    assert_eq!(v, JsValue::String("a\u{fffd}b".into()));
}

#[test]
fn truthiness_and_string_conversion() {
    let falsy = [
        JsValue::Null,
        JsValue::Bool(false),
        JsValue::Number(0.0),
        JsValue::Number(f64::NAN),
        JsValue::String(String::new()),
    ];
    assert!(falsy.iter().all(|v| !v.is_truthy()));
    let truthy = [
        JsValue::Bool(true),
        JsValue::Number(-1.0),
        JsValue::String("0".into()),
        JsValue::Array(vec![]),
        JsValue::Object(JsObject::default()),
    ];
    assert!(truthy.iter().all(JsValue::is_truthy));
    assert_eq!(
        parse(br#"[1,[2,null],"x",true,{}]"#)
            .unwrap()
            .to_js_string(),
        "1,2,,x,true,[object Object]"
    );
    assert_eq!(JsValue::Number(1e21).to_js_string(), "1e+21");
}

#[test]
fn set_and_retain_keep_javascript_order() {
    let mut o = JsObject::default();
    o.set("k", JsValue::Null);
    o.set("1", JsValue::Null);
    o.set("ops", JsValue::Null);
    o.set("k", JsValue::Bool(true));
    assert_eq!(
        stringify(&JsValue::Object(o.clone())),
        r#"{"1":null,"k":true,"ops":null}"#
    );
    o.retain(|k| k != "1");
    assert_eq!(o.len(), 2);
    assert_eq!(stringify(&JsValue::Object(o)), r#"{"k":true,"ops":null}"#);
}
