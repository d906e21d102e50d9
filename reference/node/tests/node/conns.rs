//! Slow and hostile peers (§1.4, docs/RELIABILITY.md): timeouts on every phase of a connection,
//! the connection cap that sheds stalled connections, and what a prober without the key sees.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

/// Reads until the peer closes; true when it did within 20 s (the node closed the connection).
async fn closed_by_node(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_partial_head_is_closed_at_the_header_timeout() {
    let n = node(|c| c.conn.header_timeout = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    s.write_all(b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_by_node(&mut s).await);
    assert_eq!(n.handle.state.conns.snapshot().header_timeouts, 1);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let n = node(|c| c.conn.idle_timeout = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let got = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..got]).starts_with("HTTP/1.1 200"));
    assert!(closed_by_node(&mut s).await);
    let snap = n.handle.state.conns.snapshot();
    assert_eq!((snap.idle_timeouts, snap.header_timeouts), (1, 0));
}

#[tokio::test]
async fn a_body_below_the_minimum_rate_gets_408_and_the_connection_closes() {
    let n = node(|c| {
        c.conn.body.timeout = Duration::from_millis(300);
        c.conn.body.min_rate = 1000;
    })
    .await;
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    s.write_all(b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"k\":")
        .await
        .unwrap();
    let mut out = Vec::new();
    within("the 408", s.read_to_end(&mut out)).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request body too slow"), "{text}");
    assert!(text.contains("--body-min-rate"), "{text}");
    assert_eq!(n.handle.state.conns.snapshot().body_timeouts, 1);
}

/// The slowloris, small: three times the connection cap of stalled connections (half heads,
/// half bodies, idle keep-alives), while health checks and batches on fresh connections all
/// succeed and the node never holds more than its cap. The full-size run, with timings, is
/// `load::slowloris` (docs/RELIABILITY.md).
#[tokio::test]
async fn a_slowloris_past_the_cap_never_fails_health_or_a_batch() {
    const CAP: usize = 24;
    let n = node(|c| c.conn.max_connections = CAP).await;
    let addr = n.handle.addr;
    let up = echo().await;
    let mut held = Vec::new();
    for round in 0..CAP {
        let mut s = TcpStream::connect(addr).await.unwrap();
        match round % 3 {
            0 => s
                .write_all(b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nX-A: ")
                .await
                .unwrap(),
            1 => s
                .write_all(
                    b"POST /tunnel/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"k\"",
                )
                .await
                .unwrap(),
            _ => {
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await.unwrap();
            }
        }
        held.push(s);
        // Two more stalled ones per round, then the real traffic.
        for _ in 0..2 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            held.push(s);
        }
        let (status, body) = raw_request(addr, "GET", "/health", b"").await;
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"ok"[..]),
            "round {round}"
        );
        let batch =
            json!({"k": KEY, "ops": [{"op":"connect","host":"127.0.0.1","port":up.port()}]});
        let (status, body) =
            raw_request(addr, "POST", "/tunnel/batch", batch.to_string().as_bytes()).await;
        assert_eq!(
            status,
            200,
            "round {round}: {}",
            String::from_utf8_lossy(&body)
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["r"][0]["sid"].is_string(), "round {round}: {v}");
        assert!(n.handle.state.conns.open() <= CAP);
    }
    let snap = n.handle.state.conns.snapshot();
    assert!(snap.shed >= (3 * CAP - CAP) as u64, "{snap:?}");
    assert_eq!(snap.refused, 0, "{snap:?}");
    // The shed connections were really closed.
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 2 * CAP,
        "only {closed} of {} stalled connections closed",
        held.len()
    );
}

#[tokio::test]
async fn stats_are_off_the_public_port_by_default_and_health_follows_its_path() {
    let n = node(|c| {
        c.stats_on_main_port = false;
        c.health_path = Some("/hc-7f3e".into());
    })
    .await;
    for path in ["/stats", "/metrics", "/health"] {
        let (status, _, body) = n.call("GET", path).await;
        assert_eq!(status, 404, "{path}");
        assert!(String::from_utf8_lossy(&body).contains("<center>nginx</center>"));
    }
    assert_eq!(n.get("/hc-7f3e").await.1, "ok");
}

#[tokio::test]
async fn stealth_answers_garbage_and_body_errors_like_nginx() {
    let n = node(|c| {
        c.stealth = true;
        c.params.max_body_bytes = 100;
        c.params.refused_body_drain = 1000;
    })
    .await;
    for body in [&b"garbage"[..], br#"{"k":"x","ops":{}}"#, b"\x1f\x8b\x00"] {
        let (status, headers, text) = n.post("/tunnel/batch", body.to_vec()).await;
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(body));
        assert_eq!(headers["server"], "nginx");
        assert!(String::from_utf8_lossy(&text).contains("<center>nginx</center>"));
    }
    let (status, _, text) = n.post("/tunnel/batch", vec![b' '; 200]).await;
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&text).contains("413 Request Entity Too Large"));
    // With the key, errors are still reported as JSON.
    let (status, _, text) = n
        .post(
            "/tunnel/batch",
            json!({"k": KEY, "ops": [{"op": 5}]}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&text).contains("bad op: "));
}

#[tokio::test]
async fn headers_are_title_case_with_server_first_like_nginx() {
    let n = node(|_| {}).await;
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let first_header = text.lines().nth(1).unwrap_or_default();
    assert!(first_header.starts_with("Server: nginx"), "{text}");
    assert!(text.contains("Content-Type: text/html"), "{text}");
}

/// An h2c prior-knowledge preface gets no HTTP/2 SETTINGS frame (§1.4): the node speaks
/// HTTP/1.1 only, as an nginx without `http2` on a plain port.
#[tokio::test]
async fn an_h2c_preface_gets_no_settings_frame() {
    let n = node(|_| {}).await;
    let mut s = TcpStream::connect(n.handle.addr).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    within("the close", s.read_to_end(&mut out)).await.unwrap();
    // A SETTINGS frame starts with a 3-byte length and type 0x04.
    assert!(out.len() < 4 || out[3] != 0x04, "{out:?}");
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
