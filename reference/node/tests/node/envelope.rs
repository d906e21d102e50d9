//! Transport and envelope (§1, §3).

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn health_needs_no_key() {
    let n = node(|_| {}).await;
    assert_eq!(n.get("/health").await, (StatusCode::OK, "ok".into()));
}

#[tokio::test]
async fn wrong_key_gets_nginx_404_and_runs_nothing() {
    let n = node(|_| {}).await;
    let (addr, rec) = sink().await;
    for body in [
        json!({"k":"wrong","ops":[{"op":"connect","host":"127.0.0.1","port":addr.port()}]}),
        json!({"ops":[{"op":"connect","host":"127.0.0.1","port":addr.port()}]}),
    ] {
        let (status, headers, body) = n.post("/tunnel/batch", body.to_string()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "text/html");
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("404 Not Found") && text.contains("nginx"),
            "{text}"
        );
    }
    let (status, _, _) = n
        .post(
            "/tunnel",
            json!({"k":"wrong","op":"connect","host":"127.0.0.1","port":addr.port()}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Give a stray connect time to land before asserting that none did.
    n.batch(json!([{"op":"close","sid":"x"}])).await;
    assert_eq!(rec.accepted(), 0);
    assert_eq!(n.sessions(), 0);
}

#[tokio::test]
async fn diagnostic_mode_answers_unauthorized_json() {
    let n = node(|c| c.diagnostic = true).await;
    let (status, _, body) = n
        .post(
            "/tunnel/batch",
            r#"{"k":"no","ops":[{"op":"close","sid":"s"},{"op":"close","sid":"t"}]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"r":[{"e":"unauthorized"}]})
    );
    let (_, _, body) = n
        .post("/tunnel", r#"{"k":"no","op":"close","sid":"s"}"#)
        .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"e":"unauthorized"})
    );
}

#[tokio::test]
async fn unparseable_envelope_fails_the_batch_with_one_entry() {
    let n = node(|_| {}).await;
    for body in [
        "not json",
        r#"{"k":"test-key","ops":{}}"#,
        r#"{"k":"test-key"}"#,
    ] {
        let (status, _, body) = n.post("/tunnel/batch", body).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["r"].as_array().unwrap().len(), 1, "{v}");
        assert!(
            v["r"][0]["e"].as_str().unwrap().starts_with("bad json: "),
            "{v}"
        );
    }
}

#[tokio::test]
async fn gzip_bodies_are_accepted_and_corrupt_gzip_is_reported() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let body = json!({"k":KEY,"ops":[{"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"zip")}]});
    let (status, _, body) = n
        .post(
            "/tunnel/batch",
            seqtun_wire::body::gzip(body.to_string().as_bytes()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d(&v["r"][0]), b"zip");
    let (_, _, body) = n
        .post(
            "/tunnel/batch",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff],
        )
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["r"][0]["e"]
            .as_str()
            .unwrap()
            .starts_with("gzip decode: "),
        "{v}"
    );
}

#[tokio::test]
async fn unknown_fields_change_nothing() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let body = json!({"k":KEY,"_pad":"xxxx","ops":[
        {"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"hi"),"foo":1,"wseq":0}
    ]});
    let (_, _, body) = n.post("/tunnel/batch", body.to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d(&v["r"][0]), b"hi");
    assert_eq!(v["r"][0]["caps"], seqtun_caps());
}

#[tokio::test]
async fn replies_are_positional_for_a_mixed_batch() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let refused = closed_port().await;
    let sid = n.connect(up).await;
    let r = n
        .batch(json!([
            {"op":"connect","host":"127.0.0.1","port":refused.port()},
            {"op":"frobnicate","sid":sid},
            {"op":"data","sid":sid,"d":b64(b"x")},
            {"op":"connect","host":"127.0.0.1","port":70000},
            {"op":"udp_data","sid":"nope"},
            {"op":"close","sid":"never"},
            {"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"y")},
        ]))
        .await;
    assert!(
        r[0]["e"].as_str().unwrap().starts_with("connect failed: "),
        "{}",
        r[0]
    );
    assert_eq!(
        r[1],
        json!({"e":"unknown op: frobnicate","code":"UNSUPPORTED_OP"})
    );
    assert_eq!(r[2]["sid"], sid.as_str());
    assert_eq!(d(&r[2]), b"x");
    assert!(
        r[3]["e"].as_str().unwrap().starts_with("bad op: "),
        "{}",
        r[3]
    );
    assert_eq!(r[4], json!({"sid":"nope","eof":true}));
    assert_eq!(r[5], json!({"sid":"never","eof":true}));
    assert_eq!(d(&r[6]), b"y");
    assert_eq!(r[6]["caps"], seqtun_caps());
}

#[tokio::test]
async fn malformed_op_echoes_a_valid_seq_and_spares_its_neighbours() {
    let n = node(|_| {}).await;
    let r = n
        .batch(json!([
            {"op":"data","sid":"s","seq":4,"d":7},
            {"op":"data","sid":"s","seq":-1},
            {"op":"close","sid":"s"},
        ]))
        .await;
    assert_eq!(r[0]["seq"], 4);
    assert!(r[0]["e"].as_str().unwrap().starts_with("bad op: "));
    assert!(r[1].get("seq").is_none(), "{}", r[1]);
    assert_eq!(r[2], json!({"sid":"s","eof":true}));
}

#[tokio::test]
async fn other_paths_look_like_nginx() {
    let n = node(|_| {}).await;
    let (status, body) = n.get("/tunnel/batch").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("nginx"));
}
