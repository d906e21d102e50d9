//! `--redirect`: the POST answers 302 to a one-time GET URL, as script.google.com does (§1.5).

use hyper::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn the_reply_is_served_once_behind_a_redirect() {
    let c = chain(|_| {}, |r| r.redirect = true).await;
    let up = echo().await;
    let ops = json!([{"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"hi")}]);
    let a = c.batch_raw(ops).await.unwrap();
    assert_eq!(a.status, StatusCode::FOUND);
    let location = a.headers["location"].to_str().unwrap().to_owned();
    let prefix = format!("http://{}/macros/echo?user_content_key=", c.relay.addr);
    assert!(location.starts_with(&prefix), "{location}");
    let body = get(&c.http, &location).await.unwrap();
    assert_eq!(body.status, StatusCode::OK);
    let r = &body.json()["r"][0];
    assert_eq!(d(r), b"hi", "{r}");
    let again = get(&c.http, &location).await.unwrap();
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let s = c.relay.stats().deployment(DEP);
    assert_eq!(s.bytes_out, body.body.len() as u64, "counted when served");
}

#[tokio::test]
async fn the_decoy_also_comes_behind_a_redirect() {
    let c = chain(|_| {}, |r| r.redirect = true).await;
    let a = c
        .call(DEP, json!({"k":"wrong","t":"batch","ops":[]}))
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::FOUND);
    let location = a.headers["location"].to_str().unwrap().to_owned();
    assert!(get(&c.http, &location).await.unwrap().is_decoy());
}

#[tokio::test]
async fn an_unfetched_reply_expires() {
    let ttl = std::time::Duration::from_millis(200);
    let c = chain(
        |_| {},
        |r| {
            r.redirect = true;
            r.redirect_ttl = ttl;
        },
    )
    .await;
    let ops = json!([{"op":"close","sid":"s"}]);
    let a = c.batch_raw(ops).await.unwrap();
    let location = a.headers["location"].to_str().unwrap().to_owned();
    tokio::time::sleep(ttl).await;
    let late = get(&c.http, &location).await.unwrap();
    assert_eq!(late.status, StatusCode::NOT_FOUND);
}
