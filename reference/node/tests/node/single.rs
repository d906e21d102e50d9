//! The single-op path `/tunnel` (§3.6).

use serde_json::{Value, json};

use crate::common::*;

async fn single(n: &TestNode, mut req: Value) -> Value {
    req["k"] = json!(KEY);
    let (status, _, body) = n.post("/tunnel", req.to_string()).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn single_ops_round_trip_with_caps() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let r = single(
        &n,
        json!({"op":"connect","host":"127.0.0.1","port":up.port()}),
    )
    .await;
    assert_eq!(r["caps"], seqtun_caps());
    let sid = r["sid"].as_str().unwrap().to_string();
    let r = single(&n, json!({"op":"data","sid":sid,"data":b64(b"one")})).await;
    assert_eq!(d(&r), b"one");
    assert!(r.get("caps").is_none());
    let r = single(
        &n,
        json!({"op":"connect_data","host":"127.0.0.1","port":up.port(),"data":b64(b"two")}),
    )
    .await;
    assert_eq!(d(&r), b"two");
    assert_eq!(r["caps"], seqtun_caps());
    assert_eq!(
        single(&n, json!({"op":"close","sid":sid})).await,
        json!({"sid":sid,"eof":true})
    );
}

#[tokio::test]
async fn single_path_errors() {
    let n = node(|_| {}).await;
    assert_eq!(
        single(&n, json!({"op":"data","sid":"gone"})).await,
        json!({"e":"unknown session"})
    );
    assert_eq!(
        single(&n, json!({"op":"udp_open","host":"127.0.0.1","port":53})).await,
        json!({"e":"unknown op: udp_open","code":"UNSUPPORTED_OP"})
    );
    let up = echo().await;
    let sid = n.connect(up).await;
    let r = single(&n, json!({"op":"data","sid":sid,"data":"***"})).await;
    assert!(r["e"].as_str().unwrap().starts_with("bad base64: "), "{r}");
    let (_, _, body) = n.post("/tunnel", "{oops").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["e"].as_str().unwrap().starts_with("bad json: "), "{v}");
}
