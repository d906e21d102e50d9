//! Each platform limit at its edge, on a real node behind the relay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use seqtun_relay::faults::FaultPlan;
use seqtun_relay::pages::QUOTA_EXCEPTION;
use serde_json::json;

use crate::common::*;

/// The batch reply a real node gives for closing a session that does not exist; its length
/// does not depend on anything random, which makes the size cap exact to test.
const CLOSE_REPLY: &str = r#"{"r":[{"sid":"fixed-sid","eof":true}]}"#;

fn close_fixed() -> serde_json::Value {
    json!([{"op":"close","sid":"fixed-sid"}])
}

#[tokio::test]
async fn latency_is_added_to_every_call() {
    let c = chain(
        |_| {},
        |r| {
            let (id, slow) = r.limits.parse_override("slow:latency_ms=300").unwrap();
            r.deployment_limits.insert(id, slow);
        },
    )
    .await;
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": close_fixed()});
    let started = Instant::now();
    let a = c.call("slow", body).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.text(), CLOSE_REPLY);
}

/// `--bandwidth-kbps` charges a call for its request bytes and its reply bytes: a call whose
/// request alone and reply alone would each take 150 ms takes at least 300 ms, while an
/// unlimited deployment of the same relay charges nothing extra. (Upper bounds of wall time
/// are not asserted: a loaded machine only adds time.)
#[tokio::test]
async fn bandwidth_charges_request_and_reply_bytes() {
    let sid = "s".repeat(1400);
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": [{"op":"close","sid":sid}]});
    let reply = format!(r#"{{"r":[{{"sid":"{sid}","eof":true}}]}}"#);
    let (request_len, reply_len) = (body.to_string().len(), reply.len());
    // 80 kbit/s is 10 bytes per millisecond.
    let c = chain(
        |_| {},
        |r| {
            let (id, l) = r.limits.parse_override("narrow:bandwidth_kbps=80").unwrap();
            r.deployment_limits.insert(id, l);
        },
    )
    .await;
    let started = Instant::now();
    let a = c.call("narrow", body.clone()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(a.text(), reply);
    let each = |n| seqtun_relay::limits::transfer_time(n, 80);
    assert!(
        each(request_len) >= Duration::from_millis(140),
        "{request_len}"
    );
    assert!(each(reply_len) >= Duration::from_millis(140), "{reply_len}");
    let want = each(request_len + reply_len);
    assert!(
        took >= want,
        "both directions are charged: {took:?} < {want:?}"
    );
    let wide = c.call("wide", body).await.unwrap();
    assert_eq!(wide.text(), reply, "the default is unlimited");
}

#[tokio::test]
async fn jitter_comes_from_the_seed() {
    let seed = 3;
    let max = Duration::from_millis(400);
    let expected = FaultPlan::new(seed).decide(0).jitter(max);
    assert!(
        expected >= Duration::from_millis(50),
        "pick a seed with a visible jitter"
    );
    let c = chain(
        |_| {},
        |r| {
            r.faults = FaultPlan::new(seed);
            r.limits.jitter = max;
        },
    )
    .await;
    let started = Instant::now();
    c.batch(close_fixed()).await;
    assert!(
        started.elapsed() >= expected,
        "{:?} < {expected:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_get_429_and_reach_no_node() {
    let c = Arc::new(
        chain(
            |_| {},
            |r| {
                r.limits.max_concurrent = 2;
                r.limits.latency = Duration::from_millis(600);
            },
        )
        .await,
    );
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    let mut running = Vec::new();
    for bytes in ["a", "b"] {
        let (c, sid) = (c.clone(), sid.clone());
        running.push(tokio::spawn(async move {
            c.op(json!({"op":"data","sid":sid,"d":b64(bytes.as_bytes())}))
                .await
        }));
    }
    eventually("two calls run", || {
        c.relay.stats().deployment(DEP).in_flight == 2
    })
    .await;
    let a = c
        .batch_raw(json!([{"op":"data","sid":sid,"d":b64(b"c")}]))
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.text().contains("429."), "{}", a.text());
    for call in running {
        call.await.unwrap();
    }
    let mut got = sink.bytes();
    got.sort();
    assert_eq!(got, b"ab", "the refused call must not reach the node");
    // The slots are free again: the limit refuses only while it is reached.
    c.op(json!({"op":"data","sid":sid,"d":b64(b"d")})).await;
    let s = c.relay.stats().deployment(DEP);
    assert_eq!((s.over_concurrency, s.node_fetches, s.in_flight), (1, 4, 0));
}

#[tokio::test]
async fn the_daily_quota_ends_node_fetches() {
    let c = chain(|_| {}, |r| r.limits.calls_per_day = 3).await;
    let (up, sink) = sink().await;
    let sid = c.connect(up).await;
    c.op(json!({"op":"data","sid":sid,"d":b64(b"a")})).await;
    c.op(json!({"op":"data","sid":sid,"d":b64(b"b")})).await;
    let a = c
        .batch_raw(json!([{"op":"data","sid":sid,"d":b64(b"c")}]))
        .await
        .unwrap();
    assert!(a.is_decoy(), "{}", a.text());
    sink.wait_for(b"ab").await;
    // Calls that fetch nothing spend no quota, and each deployment has its own.
    let wrong = c
        .call(DEP, json!({"k":"wrong","t":"batch","ops":[]}))
        .await
        .unwrap();
    assert!(wrong.is_decoy());
    let other = c
        .call(
            "dep2",
            json!({"k":RELAY_KEY,"t":"batch","ops":close_fixed()}),
        )
        .await
        .unwrap();
    assert_eq!(other.text(), CLOSE_REPLY);
    let s = c.relay.stats();
    assert_eq!(
        (s.deployment(DEP).node_fetches, s.deployment(DEP).over_quota),
        (3, 1)
    );
}

#[tokio::test]
async fn the_quota_exception_shows_in_diagnostic_mode() {
    let c = chain(
        |_| {},
        |r| {
            r.limits.calls_per_day = 0;
            r.diagnostic = true;
        },
    )
    .await;
    let a = c.batch_raw(close_fixed()).await.unwrap();
    assert_eq!(a.json()["e"], QUOTA_EXCEPTION);
}

#[tokio::test]
async fn replies_longer_than_the_cap_are_cut_there() {
    let len = CLOSE_REPLY.len();
    let c = chain(
        |_| {},
        |r| {
            for (id, cap) in [("whole", len), ("cut", len - 1)] {
                let text = format!("{id}:max_response_bytes={cap}");
                let (id, l) = r.limits.parse_override(&text).unwrap();
                r.deployment_limits.insert(id, l);
            }
        },
    )
    .await;
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": close_fixed()});
    let whole = c.call("whole", body.clone()).await.unwrap();
    assert_eq!(whole.text(), CLOSE_REPLY);
    let cut = c.call("cut", body).await.unwrap();
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(cut.text(), CLOSE_REPLY[..len - 1]);
    assert!(serde_json::from_slice::<serde_json::Value>(&cut.body).is_err());
    let s = c.relay.stats();
    assert_eq!(
        (
            s.deployment("whole").truncated,
            s.deployment("cut").truncated
        ),
        (0, 1)
    );
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused() {
    let body = format!(
        "{}",
        json!({"k": RELAY_KEY, "t": "batch", "ops": close_fixed()})
    );
    let limit = body.len() + 10;
    let c = chain(
        |_| {},
        |r| {
            r.max_request_bytes = limit;
            r.diagnostic = true;
        },
    )
    .await;
    let url = c.relay.url_for(DEP);
    let exact = format!("{body}{}", " ".repeat(10));
    let a = post(&c.http, &url, exact).await.unwrap();
    assert_eq!(a.text(), CLOSE_REPLY);
    let over = format!("{body}{}", " ".repeat(11));
    let a = post(&http(), &url, over).await.unwrap();
    let e = a.json()["e"].as_str().unwrap().to_owned();
    assert!(e.contains("--max-request-bytes"), "{e}");
    assert_eq!(c.relay.stats().deployment(DEP).node_fetches, 1);
}

#[tokio::test]
async fn deployments_beyond_the_limit_are_not_found() {
    let c = chain(|_| {}, |r| r.max_deployments = 2).await;
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": close_fixed()});
    let longest = "x".repeat(seqtun_relay::limits::MAX_DEPLOYMENT_ID_LEN);
    for dep in ["a", longest.as_str()] {
        assert_eq!(c.call(dep, body.clone()).await.unwrap().text(), CLOSE_REPLY);
    }
    let a = c.call("c", body.clone()).await.unwrap();
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(c.call("a", body).await.unwrap().text(), CLOSE_REPLY);
    let too_long = format!("{longest}x");
    let a = c.call(&too_long, json!({})).await.unwrap();
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_quota_refills_after_its_window() {
    let window = Duration::from_millis(300);
    let c = chain(
        |_| {},
        |r| {
            r.limits.calls_per_day = 1;
            r.quota_window = window;
        },
    )
    .await;
    assert_eq!(
        c.batch_raw(close_fixed()).await.unwrap().text(),
        CLOSE_REPLY
    );
    assert!(c.batch_raw(close_fixed()).await.unwrap().is_decoy());
    tokio::time::sleep(window).await;
    assert_eq!(
        c.batch_raw(close_fixed()).await.unwrap().text(),
        CLOSE_REPLY
    );
}

#[tokio::test]
async fn a_node_that_does_not_answer_times_out() {
    // A sink accepts the connection and never answers: a hung node.
    let (hung, _) = sink().await;
    let relay = relay_to(&FakeNode::at(hung), |r| {
        r.fetch_timeout = Duration::from_millis(200);
        r.diagnostic = true;
    })
    .await;
    let body = json!({"k": RELAY_KEY, "t": "batch", "ops": close_fixed()});
    let started = Instant::now();
    let a = post(&http(), &relay.url_for(DEP), body.to_string())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    let e = a.json()["e"].as_str().unwrap().to_owned();
    assert!(e.starts_with("Exception: Timeout: http://"), "{e}");
}
