//! The outer → inner hop (§1.5): what reaches the node, and what comes back.

use hyper::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn batch_round_trip_through_a_real_node() {
    let c = plain().await;
    let up = echo().await;
    let r = c
        .op(json!({"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"hello")}))
        .await;
    assert_eq!(d(&r), b"hello", "{r}");
    assert_eq!(
        r["caps"],
        json!(c.node.state.rules.caps),
        "caps must survive the relay: {r}"
    );
    let sid = r["sid"].as_str().unwrap().to_owned();
    let r = c
        .op(json!({"op":"data","sid":sid,"seq":0,"d":b64(b"world")}))
        .await;
    assert_eq!((d(&r), &r["seq"]), (b"world".to_vec(), &json!(0)), "{r}");
    assert_eq!(c.node.state.table.len(), 1);
    let r = c.op(json!({"op":"close","sid":sid})).await;
    assert_eq!(r["eof"], true, "{r}");
    assert_eq!(c.node.state.table.len(), 0, "the close reached the node");
    let s = c.relay.stats().deployment(DEP);
    assert_eq!((s.calls, s.node_fetches), (3, 3));
    assert!(s.bytes_in > 0 && s.bytes_out > 0 && s.bytes_to_node > 0 && s.bytes_from_node > 0);
}

#[tokio::test]
async fn single_op_round_trip_through_a_real_node() {
    let c = plain().await;
    let up = echo().await;
    let k = RELAY_KEY;
    let r = c
        .call(
            DEP,
            json!({"k":k,"t":"connect","h":"127.0.0.1","p":up.port()}),
        )
        .await
        .unwrap()
        .json();
    let sid = r["sid"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    assert_eq!(r["caps"], json!(c.node.state.rules.caps), "{r}");
    let r = c
        .call(DEP, json!({"k":k,"t":"data","sid":sid,"d":b64(b"ping")}))
        .await
        .unwrap()
        .json();
    assert_eq!(d(&r), b"ping", "{r}");
    let r = c
        .call(DEP, json!({"k":k,"t":"close","sid":sid}))
        .await
        .unwrap()
        .json();
    assert_eq!(r["eof"], true, "{r}");
    let r = c
        .call(DEP, json!({"k":k,"t":"data","sid":sid}))
        .await
        .unwrap()
        .json();
    assert_eq!(r["e"], "unknown session", "{r}");
}

#[tokio::test]
async fn forwarded_bodies_are_exactly_what_the_script_builds() {
    let fake = fake_node(200, r#"{"r":[]}"#).await;
    let relay = relay_to(&fake, |_| {}).await;
    let http = http();
    let url = relay.url_for(DEP);
    let outer = r#"{"k":"relay-key","t":"batch","_pad":"zz","ops":[{"op":"data","sid":"s","seq":7,"wseq":2,"d":"YQ==","x":{"b":1,"a":2}}]}"#;
    let a = post(&http, &url, outer).await.unwrap();
    assert_eq!(a.text(), r#"{"r":[]}"#, "node body returned verbatim");
    assert_eq!(a.headers["content-type"], "application/json; charset=utf-8");
    let single = r#"{"k":"relay-key","t":"data","sid":"s","d":"YQ==","seq":7,"_pad":"zz"}"#;
    post(&http, &url, single).await.unwrap();
    assert_eq!(
        fake.seen(),
        vec![
            (
                "/tunnel/batch".to_owned(),
                r#"{"k":"node-key","ops":[{"op":"data","sid":"s","seq":7,"wseq":2,"d":"YQ==","x":{"b":1,"a":2}}]}"#.to_owned()
            ),
            (
                "/tunnel".to_owned(),
                r#"{"k":"node-key","op":"data","sid":"s","data":"YQ=="}"#.to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn the_strip_switch_drops_unknown_op_fields_on_the_batch_path() {
    let fake = fake_node(200, r#"{"r":[]}"#).await;
    let relay = relay_to(&fake, |c| c.strip_unknown_fields = true).await;
    let outer = r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"s","seq":7,"wseq":2,"d":"YQ=="}]}"#;
    post(&http(), &relay.url_for(DEP), outer).await.unwrap();
    assert_eq!(
        fake.seen()[0].1,
        r#"{"k":"node-key","ops":[{"op":"data","sid":"s","d":"YQ=="}]}"#
    );
}

#[tokio::test]
async fn unknown_single_op_is_unsupported_and_never_reaches_the_node() {
    let fake = fake_node(200, "{}").await;
    let relay = relay_to(&fake, |_| {}).await;
    let a = post(
        &http(),
        &relay.url_for(DEP),
        r#"{"k":"relay-key","t":"udp_open","h":"127.0.0.1","p":53}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        a.text(),
        r#"{"e":"unknown tunnel op: udp_open","code":"UNSUPPORTED_OP"}"#
    );
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn wrong_key_broken_json_and_get_are_the_decoy_and_reach_no_node() {
    let fake = fake_node(200, "{}").await;
    let relay = relay_to(&fake, |_| {}).await;
    let http = http();
    let url = relay.url_for(DEP);
    for body in [
        r#"{"k":"wrong","t":"batch","ops":[]}"#,
        r#"{"t":"batch","ops":[]}"#,
        r#"{"k":"relay-key","t":"batch","ops":["#,
        "",
    ] {
        let a = post(&http, &url, body).await.unwrap();
        assert!(a.is_decoy(), "{body}: {} {}", a.status, a.text());
    }
    assert!(get(&http, &url).await.unwrap().is_decoy());
    assert!(fake.seen().is_empty());
    let stats = relay.stats().deployment(DEP);
    assert_eq!((stats.calls, stats.node_fetches), (5, 0));
}

#[tokio::test]
async fn diagnostic_mode_answers_json_errors() {
    let fake = fake_node(200, "{}").await;
    let relay = relay_to(&fake, |c| c.diagnostic = true).await;
    let http = http();
    let url = relay.url_for(DEP);
    let a = post(&http, &url, r#"{"k":"wrong","t":"batch","ops":[]}"#)
        .await
        .unwrap();
    assert_eq!(a.text(), r#"{"e":"unauthorized"}"#);
    let a = post(&http, &url, "{").await.unwrap();
    assert!(
        a.json()["e"].as_str().unwrap().starts_with("SyntaxError"),
        "{}",
        a.text()
    );
}

#[tokio::test]
async fn node_statuses_other_than_200_are_named() {
    let fake = fake_node(502, "<html>bad gateway</html>").await;
    let relay = relay_to(&fake, |_| {}).await;
    let http = http();
    let url = relay.url_for(DEP);
    let a = post(&http, &url, r#"{"k":"relay-key","t":"batch","ops":[]}"#)
        .await
        .unwrap();
    assert_eq!(a.text(), r#"{"e":"tunnel batch HTTP 502"}"#);
    let a = post(&http, &url, r#"{"k":"relay-key","t":"close","sid":"s"}"#)
        .await
        .unwrap();
    assert_eq!(a.text(), r#"{"e":"tunnel node HTTP 502"}"#);
}

#[tokio::test]
async fn a_wrong_node_key_surfaces_as_the_nodes_404() {
    let c = chain(|_| {}, |r| r.node_key = "not-the-node-key".into()).await;
    let a = c
        .batch_raw(json!([{"op":"close","sid":"s"}]))
        .await
        .unwrap();
    assert_eq!(a.text(), r#"{"e":"tunnel batch HTTP 404"}"#);
}

#[tokio::test]
async fn an_unreachable_node_is_an_exception() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = FakeNode::at(format!("127.0.0.1:{port}").parse().unwrap());
    let relay = relay_to(&unreachable, |_| {}).await;
    let body = r#"{"k":"relay-key","t":"batch","ops":[]}"#;
    let a = post(&http(), &relay.url_for(DEP), body).await.unwrap();
    assert!(a.is_decoy(), "{}", a.text());
    let relay = relay_to(&unreachable, |c| c.diagnostic = true).await;
    let a = post(&http(), &relay.url_for(DEP), body).await.unwrap();
    let e = a.json()["e"].as_str().unwrap().to_owned();
    assert!(
        e.starts_with("Exception: Request failed for http://"),
        "{e}"
    );
}

#[tokio::test]
async fn stats_and_unknown_paths() {
    let c = plain().await;
    c.op(json!({"op":"close","sid":"s"})).await;
    let a = get(&c.http, &format!("{}/stats", c.relay.base_url()))
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["calls"], 1, "{v}");
    assert_eq!(v["deployments"][DEP]["node_fetches"], 1, "{v}");
    assert!(v["bytes_in"].as_u64().unwrap() > 0 && v["bytes_out"].as_u64().unwrap() > 0);
    for path in [
        "/",
        "/macros/s/a/b/exec",
        "/tunnel/batch",
        "/macros/echo?user_content_key=x",
    ] {
        let a = get(&c.http, &format!("{}{path}", c.relay.base_url()))
            .await
            .unwrap();
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
    }
}
