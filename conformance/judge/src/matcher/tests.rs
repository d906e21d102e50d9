use serde_json::{Value, json};

use super::*;

fn run(expected: Value, actual: Value) -> Result<Vars, Mismatch> {
    let params: Params = [("drain_max".to_string(), 4.0)].into_iter().collect();
    let mut vars = Vars::default();
    Matcher {
        params: &params,
        vars: &mut vars,
    }
    .check(&expected, Some(&actual), "")?;
    Ok(vars)
}

fn ok(expected: Value, actual: Value) {
    if let Err(m) = run(expected.clone(), actual.clone()) {
        panic!("{expected} should match {actual}: {m}");
    }
}

fn no(expected: Value, actual: Value) -> Mismatch {
    run(expected.clone(), actual.clone()).expect_err(&format!("{expected} must not match {actual}"))
}

#[test]
fn objects_are_subsets_and_unknown_fields_are_fine() {
    ok(json!({"sid":"s"}), json!({"sid":"s","eof":false,"x_new":1}));
    let m = no(
        json!({"sid":"s","eof":true}),
        json!({"sid":"s","eof":false}),
    );
    assert_eq!(m.path, ".eof");
    no(json!({"sid":"s"}), json!(["s"]));
}

#[test]
fn exact_objects_refuse_extra_fields() {
    ok(
        json!({"sid":"s","eof":false,"$exact":true}),
        json!({"sid":"s","eof":false}),
    );
    let m = no(
        json!({"sid":"s","eof":false,"$exact":true}),
        json!({"sid":"s","eof":false,"d":""}),
    );
    assert!(m.expected.contains("`d`"), "{m}");
    ok(json!({"$exact":true}), json!({}));
}

#[test]
fn arrays_are_element_wise_with_equal_length() {
    ok(json!([1, {"a":2}]), json!([1, {"a":2,"b":3}]));
    assert_eq!(no(json!([1, 2]), json!([1, 3])).path, "[1]");
    no(json!([1, 2]), json!([1, 2, 3]));
}

#[test]
fn literals() {
    ok(json!(1), json!(1.0));
    ok(
        json!(18446744073709551615u64),
        json!(18446744073709551615u64),
    );
    no(json!(9007199254740993u64), json!(9007199254740992u64));
    no(json!(true), json!("true"));
    ok(json!(null), json!(null));
    no(json!("a"), json!("b"));
}

#[test]
fn absent_and_present() {
    ok(json!({"d":{"$absent":true}}), json!({"sid":"s"}));
    no(json!({"d":{"$absent":true}}), json!({"d":""}));
    no(json!({"d":{"$absent":true}}), json!({"d":null}));
    ok(json!({"e":{"$present":true}}), json!({"e":"x"}));
    no(json!({"e":{"$present":true}}), json!({}));
}

#[test]
fn bind_captures_and_then_requires_equality() {
    let vars = run(
        json!([{"sid":{"$bind":"s"}},{"sid":"${s}"}]),
        json!([{"sid":"a"},{"sid":"a"}]),
    )
    .unwrap();
    assert_eq!(vars.get("s"), Some(&json!("a")));
    no(
        json!([{"sid":{"$bind":"s"}},{"sid":"${s}"}]),
        json!([{"sid":"a"},{"sid":"b"}]),
    );
    no(
        json!([{"sid":{"$bind":"s"}},{"sid":{"$bind":"s"}}]),
        json!([{"sid":"a"},{"sid":"b"}]),
    );
    no(json!({"sid":{"$bind":"s"}}), json!({}));
}

#[test]
fn unbound_placeholders_are_reported() {
    let m = no(json!({"sid":"${nope}"}), json!({"sid":"x"}));
    assert!(m.expected.contains("nope"), "{m}");
}

#[test]
fn eq_does_not_interpret_operators() {
    ok(json!({"$eq":{"$absent":true}}), json!({"$absent":true}));
    no(json!({"$eq":{"a":1}}), json!({"a":1,"b":2}));
}

#[test]
fn strings() {
    ok(
        json!({"$regex":"^seq 3 timed out waiting for 0 \\(waited"}),
        json!("seq 3 timed out waiting for 0 (waited 30s)"),
    );
    no(json!({"$regex":"^connect failed: "}), json!("missing host"));
    no(json!({"$regex":"^x"}), json!(5));
    ok(
        json!({"$prefix":"bad base64: "}),
        json!("bad base64: Invalid"),
    );
    no(json!({"$prefix":"bad"}), json!("not bad"));
    ok(
        json!({"$contains":"nginx"}),
        json!("<center>nginx</center>"),
    );
    no(json!({"$contains":"nginx"}), json!("apache"));
}

#[test]
fn types() {
    for (t, v) in [
        ("string", json!("x")),
        ("number", json!(1.5)),
        ("integer", json!(3)),
        ("bool", json!(false)),
        ("array", json!([])),
        ("object", json!({})),
        ("null", json!(null)),
    ] {
        ok(json!({"$type": t}), v);
    }
    no(json!({"$type":"integer"}), json!(1.5));
    no(json!({"$type":"string"}), json!(1));
}

#[test]
fn numbers_and_bits() {
    ok(json!({"$gte":1,"$lte":3}), json!(3));
    no(json!({"$gte":1,"$lte":3}), json!(4));
    ok(json!({"$gt":1,"$lt":3}), json!(2));
    no(json!({"$gt":1}), json!(1));
    no(json!({"$lt":1}), json!(1));
    no(json!({"$gte":1}), json!("2"));
    ok(json!({"$bit":0}), json!(1));
    ok(json!({"$bit":0}), json!(3));
    no(json!({"$bit":0}), json!(2));
    no(json!({"$bit":0}), json!(0));
}

#[test]
fn base64_payloads() {
    ok(
        json!({"d":{"$b64":{"text":"hello"}}}),
        json!({"d":"aGVsbG8="}),
    );
    no(
        json!({"d":{"$b64":{"text":"hello"}}}),
        json!({"d":"aGVsbG8h"}),
    );
    no(json!({"d":{"$b64":{"text":"hi"}}}), json!({"d":"aGk"}));
    ok(json!({"$b64":{"len":"drain_max"}}), json!("AAAAAA=="));
}

#[test]
fn uuids() {
    ok(
        json!({"$uuid4":true}),
        json!("5d96e1c9-8f02-4f05-9b57-002108dcf5af"),
    );
    no(
        json!({"$uuid4":true}),
        json!("5D96E1C9-8F02-4F05-9B57-002108DCF5AF"),
    );
    no(
        json!({"$uuid4":true}),
        json!("5d96e1c9-8f02-1f05-9b57-002108dcf5af"),
    );
    no(json!({"$uuid4":true}), json!("edns-cache"));
}

#[test]
fn lengths_and_collections() {
    ok(json!({"$len":2}), json!([1, 2]));
    ok(json!({"$len":2}), json!("ab"));
    no(json!({"$len":2}), json!([1]));
    ok(json!({"$each":{"$type":"string"}}), json!(["a", "b"]));
    no(json!({"$each":{"$type":"string"}}), json!(["a", 1]));
    ok(json!({"$some":{"seq":1}}), json!([{"seq":0},{"seq":1}]));
    no(json!({"$some":{"seq":2}}), json!([{"seq":0},{"seq":1}]));
    no(json!({"$some":{"seq":2}}), json!([]));
}

#[test]
fn combinators() {
    ok(
        json!({"$any":[{"eof":true},{"e":{"$present":true}}]}),
        json!({"e":"x"}),
    );
    no(
        json!({"$any":[{"eof":true},{"e":{"$present":true}}]}),
        json!({"eof":false}),
    );
    ok(
        json!({"$all":[{"sid":"s"},{"eof":false}]}),
        json!({"sid":"s","eof":false}),
    );
    no(
        json!({"$all":[{"sid":"s"},{"eof":true}]}),
        json!({"sid":"s","eof":false}),
    );
    ok(json!({"caps":{"$not":{"$bit":0}}}), json!({"caps":2}));
    no(json!({"$not":{"sid":"s"}}), json!({"sid":"s"}));
    // A failed alternative leaves no binding behind.
    let vars = run(
        json!({"$any":[{"a":{"$bind":"x"},"b":1},{"b":2}]}),
        json!({"a":"v","b":2}),
    )
    .unwrap();
    assert_eq!(vars.get("x"), None);
}

#[test]
fn unknown_operators_are_errors_not_passes() {
    let m = no(json!({"$frobnicate":1}), json!(1));
    assert!(m.expected.contains("frobnicate"));
}

/// Payloads are shown decoded: `seen "QkJC" (base64 of 3 bytes "BBB")`, and a reply's `d`
/// fields are decoded next to it, so nobody decodes base64 by hand to read a failure.
#[test]
fn base64_payloads_are_decoded_for_display() {
    let m = no(json!({"d": {"$b64": {"text": "A"}}}), json!({"d": "QkJC"}));
    assert_eq!(m.expected, r#"base64 of 1 byte "A""#);
    assert_eq!(m.seen, r#""QkJC" (base64 of 3 bytes "BBB")"#);
    let m = no(json!([{}, {}]), json!([{"d": "aGk=", "eof": false}]));
    assert!(m.seen.ends_with(r#"(d = 2 bytes "hi")"#), "{}", m.seen);
}
