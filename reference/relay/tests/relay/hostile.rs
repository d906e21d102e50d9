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
