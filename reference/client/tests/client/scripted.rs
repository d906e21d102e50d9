//! The client against a scripted node that answers batches as each test says (§6, §7.8).

use std::time::Duration;

use seqtun_client::{ClientConfig, ClientHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

pub const SID: &str = "s1";

/// A scripted node and a client pointed at it; sessions open with `connect` at once.
pub async fn setup(tweak: impl FnOnce(&mut ClientConfig)) -> (Scripted, ClientHandle) {
    let node = Scripted::start().await;
    let mut cfg = client_cfg(&node.url(), KEY);
    cfg.params.first_data_wait = Duration::ZERO;
    tweak(&mut cfg);
    let c = client(cfg).await;
    (node, c)
}

/// Opens a SOCKS5 session whose connect reply is `connect_reply`.
pub async fn open_with(node: &mut Scripted, c: &ClientHandle, connect_reply: Value) -> TcpStream {
    let proxy = c.socks.unwrap();
    let app = tokio::spawn(async move { socks(proxy, "origin.test", 443).await });
    // An earlier session's close may travel alone, ahead of the open.
    let asked = next_with(node, "connect").await;
    let ops = asked.ops();
    assert_eq!(ops[0]["op"], "connect", "{ops:?}");
    assert_eq!(ops[0]["host"], "origin.test");
    // An earlier session's close may ride along; it gets its own reply (§3.1).
    let mut r = vec![connect_reply];
    r.extend(
        ops[1..]
            .iter()
            .map(|op| json!({"sid": op["sid"], "eof": true})),
    );
    asked.reply(r);
    let (code, s) = app.await.unwrap();
    assert_eq!(code, 0);
    s
}

/// Lets the client see one batch answered, so its next sessions may say "connected" before
/// the node answered (§6.7): a session to a server-speaks-first port, refused by the node.
pub async fn prove_path(node: &mut Scripted, c: &ClientHandle) {
    let proxy = c.socks.unwrap();
    let app = tokio::spawn(async move { socks(proxy, "warm-up.test", 22).await });
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["op"], "connect");
    asked.reply(vec![json!({"e":"connect failed: warm-up"})]);
    assert_eq!(app.await.unwrap().0, 0x01);
}

pub async fn open(node: &mut Scripted, c: &ClientHandle, caps: Option<u32>) -> TcpStream {
    open_with(node, c, connected(SID, caps)).await
}

/// The next request that carries `data` ops (closes are answered, other requests too).
pub async fn next_data(node: &mut Scripted) -> Asked {
    next_with(node, "data").await
}

/// The next request that carries an op of `kind`; requests without one are answered `eof`.
async fn next_with(node: &mut Scripted, kind: &str) -> Asked {
    loop {
        let asked = node.next().await;
        if asked.ops().iter().any(|op| op["op"] == kind) {
            return asked;
        }
        let r = asked
            .ops()
            .iter()
            .map(|op| json!({"sid": op["sid"], "eof": true}))
            .collect();
        asked.reply(r);
    }
}

/// Answers every op of `asked`: data ops with `bytes_for(op)` and their seq echoed, each reply
/// naming its op's session.
pub fn answer(asked: Asked, bytes_for: impl Fn(&Value) -> Vec<u8>) {
    let r = asked
        .ops()
        .iter()
        .map(|op| {
            let sid = op["sid"].as_str().unwrap_or(SID);
            match op["op"].as_str() {
                Some("data") => drained(sid, &bytes_for(op), op["seq"].as_u64()),
                _ => json!({"sid": sid, "eof": true}),
            }
        })
        .collect();
    asked.reply(r);
}

pub fn data_ops(asked: &Asked) -> Vec<Value> {
    asked
        .ops()
        .into_iter()
        .filter(|op| op["op"] == "data")
        .collect()
}

/// Reads what arrives until the app sees eof (bounded).
pub async fn read_to_eof(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    within("eof", s.read_to_end(&mut out)).await.ok();
    out
}

#[tokio::test]
async fn only_caps_bit_zero_makes_a_session_send_seq() {
    for (caps, pipelined) in [
        (None, false),
        (Some(0), false),
        (Some(2), false),
        (Some(1), true),
        (Some(3), true),
    ] {
        let (mut node, c) = setup(|_| {}).await;
        let mut app = open(&mut node, &c, caps).await;
        app.write_all(b"hello").await.unwrap();
        let mut seen_bytes = false;
        while !seen_bytes {
            let asked = next_data(&mut node).await;
            for op in data_ops(&asked) {
                assert_eq!(op.get("seq").is_some(), pipelined, "caps {caps:?}: {op}");
                seen_bytes |= decode_d(&op) == b"hello";
            }
            answer(asked, |_| Vec::new());
        }
        c.shutdown().await;
    }
}

#[tokio::test]
async fn replies_arriving_in_reverse_are_written_in_seq_order() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, Some(1)).await;
    app.write_all(b"A").await.unwrap();
    let first = next_data(&mut node).await;
    if data_ops(&first).len() < 2 {
        app.write_all(b"B").await.unwrap();
    }
    let mut held = vec![first];
    while held.iter().map(|a| data_ops(a).len()).sum::<usize>() < 2 {
        held.push(next_data(&mut node).await);
    }
    assert_eq!(
        held.len(),
        2,
        "seq 0 and seq 1 travelled in separate batches"
    );
    let second = held.pop().unwrap();
    let first = held.pop().unwrap();
    assert_eq!(data_ops(&first)[0]["seq"], 0);
    assert_eq!(data_ops(&second)[0]["seq"], 1);
    answer(second, |_| b"Y".to_vec());
    tokio::time::sleep(Duration::from_millis(50)).await;
    answer(first, |_| b"X".to_vec());
    assert_eq!(read_n(&mut app, 2).await, b"XY");
}

#[tokio::test]
async fn a_wrong_seq_closes_the_session_without_writing_its_bytes() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, Some(1)).await;
    let asked = next_data(&mut node).await;
    let op = &data_ops(&asked)[0];
    assert_eq!(op["seq"], 0);
    asked.reply(vec![drained(SID, b"BAD", Some(99))]);
    assert_eq!(
        read_to_eof(&mut app).await,
        b"",
        "no byte of the wrong reply reaches the app"
    );
    let close = node.next().await;
    assert_eq!(close.ops(), vec![json!({"op":"close","sid":SID})]);
    assert!(!c.pipelining_disabled(), "a wrong seq is not a missing seq");
}

#[tokio::test]
async fn a_missing_seq_closes_the_session_and_disables_pipelining_for_good() {
    let (mut node, c) = setup(|_| {}).await;
    let mut app = open(&mut node, &c, Some(1)).await;
    let asked = next_data(&mut node).await;
    assert_eq!(data_ops(&asked)[0]["seq"], 0);
    asked.reply(vec![drained(SID, b"old node", None)]);
    assert_eq!(read_to_eof(&mut app).await, b"");
    assert!(c.pipelining_disabled());
    assert_eq!(c.stats.snapshot().downgrades, 1);
    // Later sessions stay legacy although their node offers caps.
    let mut app = open_with(&mut node, &c, connected("s2", Some(1))).await;
    app.write_all(b"next").await.unwrap();
    loop {
        let asked = next_data(&mut node).await;
        let ops = data_ops(&asked);
        assert!(ops.iter().all(|op| op.get("seq").is_none()), "{ops:?}");
        let done = ops.iter().any(|op| decode_d(op) == b"next");
        answer(asked, |_| b"ok".to_vec());
        if done {
            break;
        }
    }
    assert_eq!(read_n(&mut app, 2).await, b"ok");
    let s = c.stats.snapshot();
    assert_eq!((s.pipelined_sessions, s.legacy_sessions), (1, 1));
}

#[tokio::test]
async fn unsupported_connect_data_falls_back_replays_the_bytes_and_is_remembered() {
    let (mut node, c) = setup(|cfg| cfg.params.first_data_wait = Duration::from_secs(5)).await;
    prove_path(&mut node, &c).await;
    let proxy = c.socks.unwrap();
    let app = tokio::spawn(async move {
        let (code, mut s) = socks(proxy, "origin.test", 443).await;
        assert_eq!(code, 0);
        s.write_all(b"ClientHello").await.unwrap();
        s
    });
    let asked = node.next().await;
    let op = asked.ops()[0].clone();
    assert_eq!(op["op"], "connect_data");
    assert_eq!(decode_d(&op), b"ClientHello");
    asked.reply(vec![
        json!({"e":"unknown op: connect_data","code":"UNSUPPORTED_OP"}),
    ]);
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["op"], "connect");
    asked.reply(vec![connected(SID, Some(1))]);
    let mut app = app.await.unwrap();
    let asked = next_data(&mut node).await;
    let op = data_ops(&asked)[0].clone();
    assert_eq!(
        (op["seq"].as_u64(), decode_d(&op)),
        (Some(0), b"ClientHello".to_vec()),
        "replayed as seq 0"
    );
    answer(asked, |_| b"ServerHello".to_vec());
    assert_eq!(read_n(&mut app, 11).await, b"ServerHello");
    assert!(c.connect_data_unsupported());
    // The next session does not try connect_data again, even with bytes at hand.
    let app2 = tokio::spawn(async move {
        let (code, mut s) = socks(proxy, "origin.test", 443).await;
        s.write_all(b"more").await.unwrap();
        (code, s)
    });
    let asked = loop {
        let asked = node.next().await;
        if asked
            .ops()
            .iter()
            .any(|op| op["op"] != "data" && op["op"] != "close")
        {
            break asked;
        }
        answer(asked, |_| Vec::new());
    };
    let r = asked
        .ops()
        .iter()
        .map(|op| match op["op"].as_str() {
            Some("data") => drained(SID, b"", op["seq"].as_u64()),
            Some("close") => json!({"sid": SID, "eof": true}),
            other => {
                assert_eq!(other, Some("connect"), "{op}");
                connected("s2", None)
            }
        })
        .collect();
    asked.reply(r);
    assert_eq!(app2.await.unwrap().0, 0);
}

#[tokio::test]
async fn connect_data_opens_in_one_round_trip_when_supported() {
    let (mut node, c) = setup(|cfg| cfg.params.first_data_wait = Duration::from_secs(5)).await;
    prove_path(&mut node, &c).await;
    let proxy = c.socks.unwrap();
    let app = tokio::spawn(async move {
        let (code, mut s) = socks(proxy, "origin.test", 443).await;
        assert_eq!(code, 0);
        s.write_all(b"hi").await.unwrap();
        let got = read_n(&mut s, 5).await;
        (got, s)
    });
    let asked = node.next().await;
    assert_eq!(asked.ops()[0]["op"], "connect_data");
    let mut r = drained(SID, b"hello", None);
    r["caps"] = json!(1);
    asked.reply(vec![r]);
    let (got, _app) = app.await.unwrap();
    assert_eq!(got, b"hello");
    let asked = next_data(&mut node).await;
    assert_eq!(
        data_ops(&asked)[0]["seq"],
        0,
        "connect_data's bytes are not numbered"
    );
}

#[tokio::test]
async fn node_errors_map_to_socks_codes_and_http_statuses() {
    let cases = [
        (
            "connect failed: Connection refused (os error 111)",
            0x05,
            502,
        ),
        (
            "connect failed: Network is unreachable (os error 101)",
            0x03,
            502,
        ),
        (
            "connect failed: failed to lookup address information: Name or service not known",
            0x04,
            502,
        ),
        ("connect failed: connect timeout", 0x06, 504),
        (
            "connect failed: session limit reached (4096 live sessions; raise --max-sessions)",
            0x01,
            502,
        ),
    ];
    let (mut node, c) = setup(|_| {}).await;
    for (e, code, status) in cases {
        let proxy = c.socks.unwrap();
        let app = tokio::spawn(async move { socks(proxy, "origin.test", 443).await.0 });
        node.next().await.reply(vec![json!({ "e": e })]);
        assert_eq!(app.await.unwrap(), code, "{e}");
        let proxy = c.http.unwrap();
        let app = tokio::spawn(async move { http_connect(proxy, "origin.test", 443).await.0 });
        node.next().await.reply(vec![json!({ "e": e })]);
        assert_eq!(app.await.unwrap(), status, "{e}");
    }
    // A failed batch (here: a non-JSON answer) is a general failure.
    let proxy = c.socks.unwrap();
    let app = tokio::spawn(async move { socks(proxy, "origin.test", 443).await.0 });
    node.next().await.raw(Raw {
        status: 502,
        headers: vec![],
        body: b"bad gateway".to_vec(),
    });
    assert_eq!(app.await.unwrap(), 0x01);
}

/// Opens never share a batch: two open replies swapped would be indistinguishable (§3.1).
/// Two sessions' polls do, and a reply list one entry short fails both: which of them the
/// entry answers cannot be known.
#[tokio::test]
async fn opens_travel_alone_and_a_short_reply_list_fails_every_op() {
    let (mut node, c) = setup(|cfg| {
        cfg.params.coalesce_step = Duration::from_millis(200);
        cfg.params.coalesce_max = Duration::from_millis(400);
    })
    .await;
    let proxy = c.socks.unwrap();
    let a = tokio::spawn(async move { socks(proxy, "a.test", 443).await });
    let b = tokio::spawn(async move { socks(proxy, "b.test", 443).await });
    let mut opened = 0;
    let asked = loop {
        let asked = node.next().await;
        let ops = asked.ops();
        if ops.iter().filter(|op| op["op"] == "data").count() == 2 {
            break asked;
        }
        let opens = ops.iter().filter(|op| op["op"] == "connect").count();
        assert!(opens <= 1, "one open per batch: {ops:?}");
        opened += opens;
        let r = ops
            .iter()
            .map(|op| match op["host"].as_str() {
                Some(host) => connected(&format!("s-{host}"), None),
                None => drained(op["sid"].as_str().unwrap(), b"", None),
            })
            .collect();
        asked.reply(r);
    };
    assert_eq!(opened, 2);
    let ((code_a, mut a), (code_b, mut b)) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((code_a, code_b), (0, 0));
    let first = asked.ops()[0]["sid"].as_str().unwrap().to_owned();
    asked.reply(vec![drained(&first, b"whose?", None)]);
    assert_eq!(read_to_eof(&mut a).await, b"");
    assert_eq!(read_to_eof(&mut b).await, b"");
    assert_eq!(c.stats.snapshot().failed_batches, 1);
}

#[tokio::test]
async fn a_seq_batch_gets_the_60_s_floor_and_a_legacy_one_30_s() {
    for (caps, floor, ceiling) in [(Some(1), 60, 135), (None, 30, 60)] {
        let (mut node, c) = setup(|_| {}).await;
        let mut app = open(&mut node, &c, caps).await;
        // Before the data op's batch exists, so its timeout cannot have started earlier.
        let started = tokio::time::Instant::now();
        let held = next_data(&mut node).await;
        tokio::time::pause();
        let mut buf = Vec::new();
        let _ = app.read_to_end(&mut buf).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(floor) && waited < Duration::from_secs(ceiling),
            "caps {caps:?}: the session closed after {waited:?}"
        );
        drop(held);
        tokio::time::resume();
        c.shutdown().await;
    }
}
