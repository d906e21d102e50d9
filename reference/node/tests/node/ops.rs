//! Every op and its reply shapes (§2, §4, §5).

use std::time::Duration;

use seqtun_wire::{CAPS_PIPELINE_SEQ, CAPS_POLL_PREEMPTION};
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn connect_gives_a_v4_uuid_and_caps() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let r = n
        .op(json!({"op":"connect","host":"127.0.0.1","port":up.port()}))
        .await;
    let sid = r["sid"].as_str().unwrap();
    assert!(is_uuid_v4(sid), "{sid}");
    assert_eq!(r, json!({"sid":sid,"eof":false,"caps":seqtun_caps()}));
}

/// Bit 2 says the node preempts parked polls (§7.2, §7.7): a node standing in for a deployed
/// #903 node, which does not, keeps bit 0 and drops bit 2.
#[tokio::test]
async fn caps_bit_two_follows_poll_preemption() {
    let up = echo().await;
    for no_preemption in [false, true] {
        let n = node(|c| c.faults.no_poll_preemption = no_preemption).await;
        let r = n
            .op(json!({"op":"connect","host":"127.0.0.1","port":up.port()}))
            .await;
        let why = format!("no_poll_preemption={no_preemption}: {r}");
        assert!(has_cap(&r, CAPS_PIPELINE_SEQ), "{why}");
        assert_eq!(has_cap(&r, CAPS_POLL_PREEMPTION), !no_preemption, "{why}");
    }
}

#[tokio::test]
async fn connect_to_ipv6_literals_bare_and_bracketed() {
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let n = node(|_| {}).await;
    for host in ["::1", "[::1]"] {
        let r = n.op(json!({"op":"connect","host":host,"port":port})).await;
        assert!(r["sid"].is_string(), "{host}: {r}");
    }
}

#[tokio::test]
async fn connect_errors_carry_no_sid_caps_or_eof() {
    let n = node(|_| {}).await;
    let refused = closed_port().await;
    let r = n
        .batch(json!([
            {"op":"connect","host":"127.0.0.1","port":refused.port()},
            {"op":"connect","host":"","port":80},
            {"op":"connect","port":80},
            {"op":"connect","host":"127.0.0.1","port":0},
            {"op":"connect","host":"127.0.0.1"},
        ]))
        .await;
    let e0 = r[0]["e"].as_str().unwrap();
    assert!(
        e0.starts_with("connect failed: ") && e0.contains("refused"),
        "{e0}"
    );
    assert_eq!(r[0].as_object().unwrap().len(), 1, "{}", r[0]);
    assert_eq!(r[1], json!({"e":"missing host"}));
    assert_eq!(r[2], json!({"e":"missing host"}));
    assert_eq!(r[3], json!({"e":"missing or invalid port"}));
    assert_eq!(r[4], json!({"e":"missing or invalid port"}));
}

#[tokio::test]
async fn connect_timeout_does_not_delay_the_rest_of_the_batch_beyond_the_join() {
    // A listener whose accept queue is full drops SYNs, so connecting to it hangs.
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            _ => {
                full = true;
                break;
            }
        }
    }
    if !full {
        eprintln!("skipped: could not fill the accept queue on this kernel");
        return;
    }
    let n = node(|c| c.params.connect_timeout = Duration::from_millis(400)).await;
    let up = echo().await;
    let r = n
        .batch(json!([
            {"op":"connect","host":"127.0.0.1","port":addr.port()},
            {"op":"connect","host":"127.0.0.1","port":up.port()},
        ]))
        .await;
    assert_eq!(r[0], json!({"e":"connect failed: connect timeout"}));
    assert!(r[1]["sid"].is_string());
    drop(listener);
}

#[tokio::test]
async fn connect_data_writes_first_and_drains_with_caps() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let r = n
        .op(json!({"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":b64(b"hello")}))
        .await;
    assert_eq!(d(&r), b"hello");
    assert_eq!(r["caps"], seqtun_caps());
    assert_eq!(r["eof"], false);
    assert_eq!(n.sessions(), 1);
}

#[tokio::test]
async fn connect_data_with_bad_base64_leaves_no_session() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let r = n
        .op(json!({"op":"connect_data","host":"127.0.0.1","port":up.port(),"d":"!!!"}))
        .await;
    assert!(r["e"].as_str().unwrap().starts_with("bad base64: "), "{r}");
    assert_eq!(n.sessions(), 0);
    assert_eq!(rec.accepted(), 0, "decoded before dialing");
}

#[tokio::test]
async fn data_to_an_unknown_session_is_eof_with_seq_echoed() {
    let n = node(|_| {}).await;
    let r = n
        .batch(json!([
            {"op":"data","sid":"gone","d":b64(b"x")},
            {"op":"data","sid":"gone","seq":3},
            {"op":"data"},
        ]))
        .await;
    assert_eq!(r[0], json!({"sid":"gone","eof":true}));
    assert_eq!(r[1], json!({"sid":"gone","eof":true,"seq":3}));
    assert_eq!(r[2], json!({"e":"missing sid"}));
}

#[tokio::test]
async fn bad_base64_on_unseqd_data_writes_nothing() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    let r = n.op(json!({"op":"data","sid":sid,"d":"aGk"})).await;
    assert!(r["e"].as_str().unwrap().starts_with("bad base64: "), "{r}");
    n.op(json!({"op":"data","sid":sid,"d":b64(b"ok")})).await;
    rec.wait("ok", |r| r.bytes(0) == b"ok").await;
}

#[tokio::test]
async fn empty_d_is_a_poll_and_replies_omit_optional_fields() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let r = n.op(json!({"op":"data","sid":sid,"d":""})).await;
    assert_eq!(r, json!({"sid":sid,"eof":false}));
}

#[tokio::test]
async fn close_is_idempotent_and_the_upstream_sees_it() {
    let n = node(|_| {}).await;
    let (up, rec) = sink().await;
    let sid = n.connect(up).await;
    rec.wait("accept", |r| r.accepted() == 1).await;
    assert_eq!(
        n.op(json!({"op":"close","sid":sid})).await,
        json!({"sid":sid,"eof":true})
    );
    rec.wait("upstream close", |r| r.closed(0)).await;
    assert_eq!(
        n.op(json!({"op":"data","sid":sid})).await,
        json!({"sid":sid,"eof":true})
    );
    assert_eq!(
        n.op(json!({"op":"close","sid":sid})).await,
        json!({"sid":sid,"eof":true})
    );
    assert_eq!(
        n.op(json!({"op":"close"})).await,
        json!({"e":"missing sid"})
    );
    assert_eq!(n.sessions(), 0);
}

#[tokio::test]
async fn final_bytes_and_eof_come_in_one_reply_then_the_sid_is_gone() {
    let n = node(|_| {}).await;
    let up = source(b"0123456789".to_vec()).await;
    let sid = n.connect(up).await;
    let mut got = Vec::new();
    let last = loop {
        let r = n.op(json!({"op":"data","sid":sid})).await;
        got.extend(d(&r));
        if r["eof"] == true {
            break r;
        }
    };
    assert_eq!(got, b"0123456789");
    assert_eq!(d(&last), b"0123456789", "bytes and eof arrive together");
    assert_eq!(n.sessions(), 0);
}

#[tokio::test]
async fn drain_cap_splits_and_eof_waits_for_the_last_byte() {
    const CAP: usize = 64 * 1024;
    let n = node(|c| c.params.tcp_drain_max = CAP).await;
    let payload: Vec<u8> = (0..CAP + 4096).map(|i| (i % 251) as u8).collect();
    let up = source(payload.clone()).await;
    let sid = n.connect(up).await;
    // Wait until the reader has everything (and the FIN) buffered.
    within("buffering", async {
        while n
            .handle
            .state
            .table
            .tcp(&sid)
            .is_some_and(|s| !s.upstream_done())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let first = n.op(json!({"op":"data","sid":sid})).await;
    assert_eq!(d(&first).len(), CAP);
    assert_eq!(first["eof"], false);
    let second = n.op(json!({"op":"data","sid":sid})).await;
    assert_eq!(d(&second).len(), 4096);
    assert_eq!(second["eof"], true);
    assert_eq!([d(&first), d(&second)].concat(), payload);
}

#[tokio::test]
async fn spent_budget_still_answers_every_op_and_keeps_the_bytes() {
    let n = node(|c| {
        c.params.tcp_drain_max = 60;
        c.params.batch_budget = 100;
    })
    .await;
    let mut sids = Vec::new();
    for tag in [b'a', b'b', b'c'] {
        let up = source(vec![tag; 60]).await;
        let sid = n.connect(up).await;
        within("buffering", async {
            while n
                .handle
                .state
                .table
                .tcp(&sid)
                .is_some_and(|s| s.buffered() < 60)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        sids.push(sid);
    }
    let r = n
        .batch(json!(
            sids.iter()
                .map(|s| json!({"op":"data","sid":s}))
                .collect::<Vec<_>>()
        ))
        .await;
    let sizes: Vec<usize> = r.iter().map(|x| d(x).len()).collect();
    assert_eq!(sizes, vec![60, 40, 0]);
    assert_eq!(
        r[2],
        json!({"sid":sids[2],"eof":false}),
        "placeholder, no false eof"
    );
    assert_eq!(r[1]["eof"], false, "20 bytes of b remain");
    let rest = read_n(&n, &sids[1], 20).await;
    assert_eq!(rest, vec![b'b'; 20]);
    assert_eq!(read_n(&n, &sids[2], 60).await, vec![b'c'; 60]);
}

#[tokio::test]
async fn caps_appear_only_on_connect_replies() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let r = n
        .batch(json!([
            {"op":"data","sid":sid,"d":b64(b"a"),"seq":0},
            {"op":"data","sid":"nope"},
            {"op":"udp_data","sid":"nope"},
            {"op":"frob"},
            {"op":"close","sid":sid},
        ]))
        .await;
    for reply in &r {
        assert!(reply.get("caps").is_none(), "{reply}");
    }
}

#[tokio::test]
async fn unseqd_data_keeps_the_legacy_path_on_a_pipelining_node() {
    let n = node(|_| {}).await;
    let up = echo().await;
    let sid = n.connect(up).await;
    let r = n.op(json!({"op":"data","sid":sid,"d":b64(b"plain")})).await;
    assert_eq!(d(&r), b"plain");
    assert!(r.get("seq").is_none());
}
