use super::*;
use crate::body::gzip;

#[test]
fn finds_the_key_and_counts_ops_without_parsing_them() {
    let p = probe_batch(
        br#"{"ops":[{"op":"x"},1,[2],"s"],"t":"batch","k":"key"}"#,
        1 << 20,
    )
    .unwrap();
    assert_eq!(p.k.as_deref(), Some("key"));
    assert_eq!(p.ops, Some(4));
    let p = probe_batch(br#"{"k":null,"ops":[]}"#, 100).unwrap();
    assert_eq!((p.k, p.ops), (None, Some(0)));
}

#[test]
fn envelope_errors_are_bad_json() {
    for body in [
        &br"not json"[..],
        br#"{"k":"x","ops":{}}"#,
        br#"{"k":"x"}"#,
        br#"{"k":5,"ops":[]}"#,
        br#"{"k":"x","k":"y","ops":[]}"#,
        br#"{"k":"x","ops":[],"ops":[]}"#,
        br#"[1]"#,
        br#"{"k":"x","ops":[]} trailing"#,
        br#"{"k":"x","ops":[1,]}"#,
    ] {
        let err = probe_batch(body, 1 << 20).unwrap_err();
        assert!(
            err.to_string().starts_with("bad json: "),
            "{}: {err}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn gzip_is_inflated_as_it_streams_and_bounded() {
    let json = br#"{"k":"key","ops":[1,2,3]}"#;
    let gz = gzip(json);
    assert_eq!(probe_batch(&gz, json.len()).unwrap().ops, Some(3));
    assert_eq!(
        probe_batch(&gz, json.len() - 1).unwrap_err(),
        ProbeError::Body(BodyError::TooLarge {
            limit: json.len() - 1
        })
    );
    let err = probe_batch(&[0x1f, 0x8b, 0, 0, 1, 2, 3], 100).unwrap_err();
    assert!(err.to_string().starts_with("gzip decode: "), "{err}");
}

#[test]
fn depth_is_capped_at_its_edge() {
    let nest = |n: usize| format!(r#"{{"k":"x","ops":[{}{}]}}"#, "[".repeat(n), "]".repeat(n));
    // The envelope and ops take two levels.
    assert!(probe_batch(nest(MAX_JSON_DEPTH - 2).as_bytes(), 1 << 20).is_ok());
    let err = probe_batch(nest(MAX_JSON_DEPTH - 1).as_bytes(), 1 << 20).unwrap_err();
    assert!(err.to_string().contains("nested deeper"), "{err}");
}

#[test]
fn envelope_tokens_are_capped_but_op_payloads_are_not() {
    let key = |n: usize| format!(r#"{{"k":"{}","ops":[]}}"#, "a".repeat(n));
    // The token counts its opening quote.
    assert!(probe_batch(key(MAX_ENVELOPE_TOKEN - 1).as_bytes(), 1 << 20).is_ok());
    assert!(probe_batch(key(MAX_ENVELOPE_TOKEN).as_bytes(), 1 << 20).is_err());
    let big = format!(
        r#"{{"k":"x","ops":[{{"op":"data","d":"{}"}}]}}"#,
        "A".repeat(MAX_ENVELOPE_TOKEN * 4)
    );
    assert_eq!(probe_batch(big.as_bytes(), 1 << 20).unwrap().ops, Some(1));
    // Field names are capped; the value of an unknown field is skipped unbuffered and is not
    // (a client may pad its envelope, vector node/transport/accepts-a-2-mib-body).
    let long = "p".repeat(MAX_ENVELOPE_TOKEN * 4);
    let pad = format!(r#"{{"k":"x","pad":"{long}","ops":[]}}"#);
    assert_eq!(
        probe_batch(pad.as_bytes(), 1 << 20).unwrap().k.as_deref(),
        Some("x")
    );
    let name = format!(r#"{{"k":"x","{long}":1,"ops":[]}}"#);
    assert!(probe_batch(name.as_bytes(), 1 << 20).is_err());
    // A name written with escapes may spell `k`: its value stays capped.
    let escaped = format!(r#"{{"\u006b":"{long}","ops":[]}}"#);
    assert!(probe_batch(escaped.as_bytes(), 1 << 20).is_err());
    let after_pad = format!(r#"{{"pad":"{long}","k":"{long}","ops":[]}}"#);
    assert!(probe_batch(after_pad.as_bytes(), 1 << 20).is_err());
}

#[test]
fn escaped_quotes_do_not_confuse_the_guard() {
    let p = probe_batch(br#"{"k":"a\"{[b","ops":["\\",{"x":"]}"}]}"#, 100).unwrap();
    assert_eq!(p.k.as_deref(), Some("a\"{[b"));
    assert_eq!(p.ops, Some(2));
}

#[test]
fn invalid_utf8_anywhere_is_bad_json_even_inside_an_op() {
    // Found by the node_batch fuzzer: serde skipped the bad bytes inside the op, the raw-op
    // parse did not, so the probe passed a body that is not JSON.
    let body = b"{\"k\":\"x\",\"ops\":[{\"op\":\"close\",\"p\x8a\x8dt\":1}]}";
    let err = probe_batch(body, 1 << 20).unwrap_err();
    assert!(err.to_string().contains("invalid UTF-8"), "{err}");
    // A multi-byte character split across reads is fine, in plain and gzip bodies alike.
    let ok = "{\"k\":\"\u{e9}\u{1f600}\",\"ops\":[\"\u{4e2d}\"]}"
        .as_bytes()
        .to_vec();
    assert_eq!(
        probe_batch(&ok, 1 << 20).unwrap().k.as_deref(),
        Some("\u{e9}\u{1f600}")
    );
    assert_eq!(probe_batch(&gzip(&ok), 1 << 20).unwrap().ops, Some(1));
    let mut g = Guard::new(std::io::empty(), usize::MAX);
    let text = "a\u{1f600}b".as_bytes();
    assert!(g.utf8(&text[..2]) && g.utf8(&text[2..4]) && g.utf8(&text[4..]));
    assert!(g.carry.is_empty());
    assert!(
        g.utf8(&text[..3]) && !g.carry.is_empty(),
        "a split sequence is carried"
    );
}
