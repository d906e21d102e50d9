//! The faults that make the reference node stand in for deployed nodes (`seqtun_node::standin`):
//! each one really changes what the node says on the wire, exactly as the field record says the
//! deployed node does, and the stand-ins carry the right ones.

use std::time::{Duration, Instant};

use seqtun_node::{Deployed, Faults, NodeConfig};
use seqtun_wire::params::DEPLOYED_BODY_LIMIT;
use seqtun_wire::{CAPS_PIPELINE_SEQ, CAPS_REPLAY_SAFE};
use serde_json::{Value, json};

use crate::common::*;

fn with(f: impl FnOnce(&mut Faults)) -> impl FnOnce(&mut NodeConfig) {
    move |c: &mut NodeConfig| f(&mut c.faults)
}

/// A batch body of exactly `len` bytes: one close, padded with an unknown envelope field.
fn padded(len: usize) -> String {
    let bare = json!({"k": KEY, "ops": [{"op":"close","sid":"x"}], "_pad": ""}).to_string();
    let pad = "p".repeat(len - bare.len());
    let body = json!({"k": KEY, "ops": [{"op":"close","sid":"x"}], "_pad": pad}).to_string();
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn deployed_body_limit_accepts_2_mib_and_refuses_one_byte_more_with_axums_413() {
    let n = node(with(|f| f.deployed_body_limit = true)).await;
    let (status, _, body) = n.post("/tunnel/batch", padded(DEPLOYED_BODY_LIMIT)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, headers, body) = n
        .post("/tunnel/batch", padded(DEPLOYED_BODY_LIMIT + 1))
        .await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        "Failed to buffer the request body: length limit exceeded"
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let (status, _, _) = n.post("/tunnel", padded(DEPLOYED_BODY_LIMIT + 1)).await;
    assert_eq!(status, 413);
    // Far more than the sockets buffer: the node reads on, so the client (which only reads the
    // answer once its body is out) sees the 413 instead of stalling or being reset.
    let (status, _, _) = within(
        "a refused 24 MiB body",
        n.post("/tunnel/batch", padded(24 << 20)),
    )
    .await;
    assert_eq!(status, 413);
    // Without the fault the node reads 64 MiB: 4 MiB (what older clients send) is fine.
    let plain = node(|_| {}).await;
    let (status, _, _) = plain.post("/tunnel/batch", padded(4 << 20)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deployed_http_surface_answers_405_with_allow_and_empty_404s() {
    let n = node(with(|f| f.deployed_http_surface = true)).await;
    for (method, path, status, allow) in [
        ("GET", "/tunnel/batch", 405, Some("POST")),
        ("GET", "/tunnel", 405, Some("POST")),
        ("POST", "/health", 405, Some("GET,HEAD")),
        ("GET", "/index.php", 404, None),
        ("POST", "/other", 404, None),
    ] {
        let (got, headers, body) = n.call(method, path).await;
        assert_eq!(got, status, "{method} {path}");
        assert_eq!(
            headers.get("allow").map(|v| v.to_str().unwrap()),
            allow,
            "{method} {path}"
        );
        assert!(body.is_empty(), "{method} {path}: {body:?}");
    }
    assert_eq!(n.get("/health").await, (hyper::StatusCode::OK, "ok".into()));
    // A wrong key still gets nginx's page: that one is deliberate in deployed nodes.
    let (status, _, body) = n
        .post("/tunnel/batch", json!({"k":"wrong","ops":[]}).to_string())
        .await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("nginx"));
    // seqtun answers every unknown request with nginx's page.
    let plain = node(|_| {}).await;
    let (status, _, body) = plain.call("GET", "/tunnel/batch").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("nginx"));
}

#[tokio::test]
async fn missing_key_is_a_bad_json_reply_and_runs_nothing() {
    let n = node(with(|f| f.missing_key_is_bad_json = true)).await;
    let (up, rec) = sink().await;
    let body = json!({"ops":[{"op":"connect","host":"127.0.0.1","port":up.port()}]}).to_string();
    let (status, _, reply) = n.post("/tunnel/batch", body).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&reply).unwrap();
    let e = v["r"][0]["e"].as_str().unwrap();
    assert!(e.starts_with("bad json: missing field `k`"), "{v}");
    assert_eq!(v["r"].as_array().unwrap().len(), 1);
    let (status, _, reply) = n
        .post("/tunnel", json!({"op":"close","sid":"x"}).to_string())
        .await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&reply));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.accepted(), 0, "an op ran");
}

/// A parked poll holds a later write of its session until its deadline (E-19); with
/// preemption the write goes through at once.
#[tokio::test]
async fn no_poll_preemption_holds_a_write_behind_a_parked_poll() {
    for (fault, slow) in [(true, true), (false, false)] {
        let n = node(|c| {
            c.params.longpoll_deadline = Duration::from_millis(1500);
            c.faults.no_poll_preemption = fault;
        })
        .await;
        let up = echo().await;
        let sid = n.connect(up).await;
        let poll = n.op(json!({"op":"data","sid":sid,"seq":0}));
        let write = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let t = Instant::now();
            let r = n
                .op(json!({"op":"data","sid":sid,"seq":1,"d":b64(b"hi")}))
                .await;
            (r, t.elapsed())
        };
        let (polled, (written, took)) = tokio::join!(poll, write);
        assert_eq!(
            (polled["seq"].clone(), written["seq"].clone()),
            (json!(0), json!(1))
        );
        if slow {
            assert!(took >= Duration::from_millis(1200), "{took:?}");
        } else {
            assert!(took < Duration::from_millis(1200), "{took:?}");
        }
    }
}

#[tokio::test]
async fn udp_polls_do_not_refresh_reaps_a_polled_receive_only_flow() {
    let n = node(|c| {
        c.params.udp_idle_timeout = Duration::from_millis(1000);
        c.params.reap_interval = Duration::from_millis(100);
        c.params.longpoll_deadline = Duration::from_millis(100);
        c.faults.udp_polls_do_not_refresh = true;
    })
    .await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = udp.local_addr().unwrap().port();
    let sid = n
        .op(json!({"op":"udp_open","host":"127.0.0.1","port":port,"d":b64(b"x")}))
        .await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let t0 = Instant::now();
    let mut last = json!(null);
    while t0.elapsed() < Duration::from_millis(1600) {
        last = n.op(json!({"op":"udp_data","sid":sid})).await;
        if last["eof"] == true {
            break;
        }
    }
    assert_eq!(
        last,
        json!({"sid": sid, "eof": true}),
        "polls kept it alive"
    );
}

#[tokio::test]
async fn budget_gap_leaves_drains_past_the_budget_without_an_entry() {
    let n = node(|c| {
        c.params.tcp_drain_max = 1000;
        c.params.batch_budget = 1000;
        c.faults.budget_gap = true;
    })
    .await;
    let mut sids = Vec::new();
    for _ in 0..3 {
        sids.push(n.connect(source(vec![7; 1000]).await).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ops: Vec<Value> = sids.iter().map(|s| json!({"op":"data","sid":s})).collect();
    let (_, _, body) = n
        .post("/tunnel/batch", json!({"k":KEY,"ops":ops}).to_string())
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["r"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test]
async fn no_seq_on_missing_sid_and_whole_batch_type_errors() {
    let n = node(with(|f| {
        f.no_seq_on_missing_sid = true;
        f.whole_batch_type_errors = true;
    }))
    .await;
    assert_eq!(
        n.op(json!({"op":"data","seq":4})).await,
        json!({"e":"missing sid"})
    );
    let (_, _, body) = n
        .post(
            "/tunnel/batch",
            json!({"k":KEY,"ops":[{"op":"connect","host":"h","port":70000},{"op":"close","sid":"s"}]})
                .to_string(),
        )
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let r = v["r"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{v}");
    assert!(r[0]["e"].as_str().unwrap().starts_with("bad json: "), "{v}");
}

#[tokio::test]
async fn bad_base64_keeps_seq_leaves_the_seq_unconsumed() {
    for (fault, then) in [(true, "runs"), (false, "duplicate")] {
        let n = node(with(|f| f.bad_base64_keeps_seq = fault)).await;
        let (up, rec) = sink().await;
        let sid = n.connect(up).await;
        let r = n.op(json!({"op":"data","sid":sid,"seq":0,"d":"@@"})).await;
        assert!(r["e"].as_str().unwrap().starts_with("bad base64"), "{r}");
        let r = n
            .op(json!({"op":"data","sid":sid,"seq":0,"d":b64(b"ok")}))
            .await;
        match then {
            "runs" => {
                assert!(r.get("e").is_none(), "{r}");
                rec.wait("the write", |r| r.bytes(0) == b"ok").await;
            }
            _ => assert!(
                r["e"].as_str().unwrap().contains("already processed"),
                "{r}"
            ),
        }
    }
}

#[tokio::test]
async fn single_ignores_bad_base64_answers_as_if_nothing_was_sent() {
    let n = node(with(|f| f.single_ignores_bad_base64 = true)).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let (_, _, body) = n
        .post(
            "/tunnel",
            json!({"k":KEY,"op":"data","sid":sid,"data":"@@"}).to_string(),
        )
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"sid":sid,"eof":false}));
}

#[test]
fn the_stand_ins_carry_their_nodes_divergences_and_long_polls() {
    let n903 = Deployed::Node903.config("k");
    assert_eq!(n903.params.longpoll_deadline, Duration::from_secs(15));
    let f = &n903.faults;
    assert!(f.deployed_body_limit && f.deployed_http_surface && f.missing_key_is_bad_json);
    assert!(f.no_poll_preemption && f.udp_polls_do_not_refresh && f.bad_base64_keeps_seq);
    assert!(!f.no_caps && !f.unordered_writes && !f.budget_gap, "{f:?}");
    let main = Deployed::NodeMain.config("k");
    assert_eq!(main.params.longpoll_deadline, Duration::from_secs(2));
    let f = &main.faults;
    assert!(f.no_caps && f.unordered_writes && f.unordered_drains && f.budget_gap);
    assert!(f.deployed_body_limit && f.no_poll_preemption, "{f:?}");
    assert!(main.params.max_batch_ops > 1 << 20 && main.params.seq_max_waiting > 1 << 20);
}

/// Replay-safe seq (§7.10) is seqtun's: a NODE-903-like stand-in offers caps bit 0 alone, so a
/// seqtun client never retransmits to it, and the fault that takes the bit away leaves bit 0.
#[tokio::test]
async fn a_903_like_stand_in_offers_ordered_seq_without_replay_safety() {
    assert!(Deployed::Node903.config("k").faults.no_replay_safe);
    assert!(Deployed::NodeMain.config("k").faults.no_replay_safe);
    let up = echo().await;
    let open = json!({"op":"connect","host":"127.0.0.1","port":up.port()});
    let ours = node(|_| {}).await;
    let r = ours.op(open.clone()).await;
    assert!(
        has_cap(&r, CAPS_PIPELINE_SEQ) && has_cap(&r, CAPS_REPLAY_SAFE),
        "{r}"
    );
    let n = node(with(|f| f.no_replay_safe = true)).await;
    let r = n.op(open).await;
    assert!(
        has_cap(&r, CAPS_PIPELINE_SEQ) && !has_cap(&r, CAPS_REPLAY_SAFE),
        "{r}"
    );
}
