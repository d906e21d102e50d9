//! Numbers cross the relay as JavaScript doubles (§10.4), shown on a real node.

use seqtun_relay::js_json;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_seq_above_2_pow_53_reaches_the_node_rounded() {
    let c = plain().await;
    // Raw text: serde_json would keep the exact integer, which is the point of the test.
    let body = r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"nope","seq":9007199254740993}]}"#;
    let a = post(&c.http, &c.relay.url_for(DEP), body).await.unwrap();
    let r = &a.json()["r"][0];
    assert_eq!(r["eof"], true, "{}", a.text());
    assert_eq!(
        r["seq"].as_u64(),
        Some(9_007_199_254_740_992),
        "{}",
        a.text()
    );
}

#[tokio::test]
async fn a_seq_of_1e21_reaches_the_node_in_exponent_form_and_fails() {
    let fake = fake_node(200, r#"{"r":[]}"#).await;
    let relay = relay_to(&fake, |_| {}).await;
    let body = r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"s","seq":1000000000000000000000}]}"#;
    post(&http(), &relay.url_for(DEP), body).await.unwrap();
    assert_eq!(
        fake.seen()[0].1,
        r#"{"k":"node-key","ops":[{"op":"data","sid":"s","seq":1e+21}]}"#
    );

    let c = plain().await;
    let a = post(&c.http, &c.relay.url_for(DEP), body).await.unwrap();
    let r = &a.json()["r"][0];
    assert!(
        r["e"].is_string(),
        "a node must refuse seq 1e+21: {}",
        a.text()
    );
}

#[tokio::test]
async fn ordinary_numbers_are_unchanged() {
    let fake = fake_node(200, r#"{"r":[]}"#).await;
    let relay = relay_to(&fake, |_| {}).await;
    let ops = json!([{"op":"connect","host":"h","port":65535},{"op":"data","sid":"s","seq":9007199254740991_u64}]);
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": ops});
    post(&http(), &relay.url_for(DEP), body.to_string())
        .await
        .unwrap();
    let forwarded: serde_json::Value = serde_json::from_str(&fake.seen()[0].1).unwrap();
    assert_eq!(forwarded["ops"], ops);
}

/// The emulator's `JSON.parse`/`JSON.stringify` against a real JavaScript engine, on inputs
/// chosen where the two could differ.
#[test]
fn js_json_agrees_with_node_js() {
    let Some(node) = node_js() else {
        eprintln!("skipped: node (Node.js) is not installed; CI installs it via .ci/run");
        return;
    };
    let corpus = [
        "9007199254740993",
        "-9007199254740993",
        "18446744073709551615",
        "1e21",
        "999999999999999999999",
        "123456789012345678901234567890",
        "1.0",
        "-0",
        "0.1",
        "1e-7",
        "1.5e-10",
        "2.5e300",
        "5e-324",
        "[0.000001,1e6,1E+2,12.50]",
        r#"{"b":1,"a":2,"10":3,"2":4,"01":5,"4294967295":6,"4294967294":7}"#,
        r#"{"a":1,"b":2,"a":3}"#,
        r#""\u0001\u001f\u007f\u2028\/\"\\é""#,
        r#"{"ops":[{"op":"data","seq":3,"x":[true,false,null,{}]}]}"#,
    ];
    let script = "const lines=require('fs').readFileSync(0,'utf8').split('\\n').filter(Boolean);\
                  for (const l of lines) console.log(JSON.stringify(JSON.stringify(JSON.parse(JSON.parse(l)))));";
    let input: String = corpus
        .iter()
        .map(|c| format!("{}\n", serde_json::to_string(c).unwrap()))
        .collect();
    let out = run_with_stdin(&node, &["-e", script], &input);
    let js: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(js.len(), corpus.len(), "{out}");
    for (input, want) in corpus.iter().zip(&js) {
        let ours = js_json::stringify(&js_json::parse(input.as_bytes()).unwrap());
        assert_eq!(&ours, want, "input {input}");
    }
}
