//! Slow and hostile clients at the relay: the same connection timeouts and cap as the node,
//! a relay-wide cap on request-body memory, and the key checked before the body is parsed.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

async fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_partial_head_is_closed_at_the_header_timeout() {
    let c = chain(
        |_| {},
        |r| r.conn.header_timeout = Duration::from_millis(300),
    )
    .await;
    let mut s = TcpStream::connect(c.relay.addr).await.unwrap();
    s.write_all(b"POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(read_all(&mut s).await, "", "closed without an answer");
}

#[tokio::test]
async fn bodies_beyond_the_body_memory_cap_get_the_503_page() {
    let c = chain(|_| {}, |r| r.max_body_memory_bytes = 1 << 20).await;
    let body = format!(
        r#"{{"k":"{RELAY_KEY}","t":"batch","pad":"{}","ops":[]}}"#,
        "A".repeat(700 << 10)
    );
    let head = format!(
        "POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // Two bodies of 700 KiB held half-sent: the second does not fit a 1 MiB cap.
    let mut a = TcpStream::connect(c.relay.addr).await.unwrap();
    a.write_all(head.as_bytes()).await.unwrap();
    a.write_all(&body.as_bytes()[..body.len() - 5])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut b = TcpStream::connect(c.relay.addr).await.unwrap();
    b.write_all(head.as_bytes()).await.unwrap();
    let _ = b.write_all(body.as_bytes()).await;
    let refused = read_all(&mut b).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    a.write_all(&body.as_bytes()[body.len() - 5..])
        .await
        .unwrap();
    let ok = read_all(&mut a).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.ends_with(r#"{"r":[]}"#), "{ok}");
}

/// A wrong key is answered from the probe, before the million-element `ops` is parsed into
/// values (its memory is measured in `load::wrong_key_bodies`, docs/RELIABILITY.md).
#[tokio::test]
async fn a_wrong_key_is_answered_before_the_body_is_parsed() {
    let c = chain(|_| {}, |r| r.diagnostic = true).await;
    let wide = format!(r#"{{"ops":[{}0],"k":"wrong"}}"#, "0,".repeat(1 << 20));
    let a = post(&c.http, &c.relay.url_for("d"), wide).await.unwrap();
    assert_eq!(a.text(), r#"{"e":"unauthorized"}"#);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let c = chain(|_| {}, |r| r.conn.idle_timeout = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(c.relay.addr).await.unwrap();
    s.write_all(b"GET /macros/s/d/exec HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let got = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..got]).starts_with("HTTP/1.1 200"));
    // The rest of the decoy, if any, then the close.
    let _ = read_all(&mut s).await;
    let snap = c.relay.connections();
    assert_eq!(
        (snap.idle_timeouts, snap.header_timeouts),
        (1, 0),
        "{snap:?}"
    );
}

/// A body below `--body-min-rate` after `--body-timeout-ms` is cut off: the relay drops the
/// call as Apps Script drops a request it never fully received, and runs none of it.
#[tokio::test]
async fn a_body_below_the_minimum_rate_is_dropped_at_its_deadline() {
    let c = chain(
        |_| {},
        |r| {
            r.conn.body.timeout = Duration::from_millis(300);
            r.conn.body.min_rate = 1000;
        },
    )
    .await;
    let mut s = TcpStream::connect(c.relay.addr).await.unwrap();
    s.write_all(
        b"POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"k\":",
    )
    .await
    .unwrap();
    assert_eq!(read_all(&mut s).await, "", "closed without an answer");
    assert_eq!(c.relay.connections().body_timeouts, 1);
    assert_eq!(
        c.relay.stats().deployment("d").node_fetches,
        0,
        "nothing reached the node"
    );
}

/// One exec call on a fresh connection, `Connection: close`; the status line's code.
async fn fresh_call(addr: std::net::SocketAddr, body: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    read_all(&mut s).await
}

/// The slowloris at the relay: three times its connection cap of stalled connections (partial
/// heads, partial bodies, idle keep-alives); every real call on a fresh connection is still
/// answered and the relay never holds more than its cap.
#[tokio::test]
async fn a_slowloris_past_the_cap_never_fails_a_call() {
    const CAP: usize = 12;
    let c = chain(|_| {}, |r| r.conn.max_connections = CAP).await;
    let addr = c.relay.addr;
    let call = format!(r#"{{"k":"{RELAY_KEY}","t":"batch","ops":[]}}"#);
    let mut held = Vec::new();
    for round in 0..CAP {
        for kind in 0..3 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let stall: &[u8] = match kind {
                0 => b"POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\nX-A: ",
                1 => b"POST /macros/s/d/exec HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{",
                _ => b"GET /macros/s/d/exec HTTP/1.1\r\nHost: x\r\n\r\n",
            };
            s.write_all(stall).await.unwrap();
            held.push(s);
        }
        let answer = fresh_call(addr, &call).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "round {round}: {answer}"
        );
        assert!(answer.ends_with(r#"{"r":[]}"#), "round {round}: {answer}");
        assert!(c.relay.connections().open as usize <= CAP);
    }
    let snap = c.relay.connections();
    assert!(snap.shed >= (3 * CAP - CAP) as u64, "{snap:?}");
    assert_eq!(snap.refused, 0, "{snap:?}");
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 8192];
        // An idle one may still have its decoy page to read before the close.
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
        {
            if n == 0 {
                closed += 1;
                break;
            }
        }
    }
    assert!(
        closed >= 2 * CAP,
        "only {closed} of {} stalled connections closed",
        held.len()
    );
}
