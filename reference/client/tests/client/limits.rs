//! Client limits at their edges, and SOCKS5 authentication through a running client.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;
use crate::scripted::{answer, next_data, open, setup};

#[tokio::test]
async fn a_data_op_carries_at_most_max_op_bytes() {
    let (mut node, c) = setup(|cfg| cfg.params.max_data_op_bytes = 4).await;
    let mut app = open(&mut node, &c, None).await;
    app.write_all(b"0123456789").await.unwrap();
    let mut sent = Vec::new();
    while sent.len() < 10 {
        let asked = next_data(&mut node).await;
        for op in asked.ops().iter().filter(|op| op["op"] == "data") {
            let d = decode_d(op);
            assert!(d.len() <= 4, "an op carried {} bytes", d.len());
            sent.extend(d);
        }
        answer(asked, |_| Vec::new());
    }
    assert_eq!(sent, b"0123456789");
}

#[tokio::test]
async fn a_silent_app_is_dropped_after_the_handshake_timeout() {
    let (_node, c) = setup(|cfg| cfg.handshake_timeout = Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(c.socks.unwrap()).await.unwrap();
    s.write_all(&[5]).await.unwrap(); // half a greeting
    let mut buf = [0u8; 8];
    let n = within("the handshake timeout", s.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
}

#[tokio::test]
async fn sessions_beyond_max_sessions_are_refused() {
    let (mut node, c) = setup(|cfg| cfg.max_sessions = 1).await;
    let _first = open(&mut node, &c, None).await;
    let (code, _) = socks(c.socks.unwrap(), "origin.test", 443).await;
    assert_eq!(
        code, 0x01,
        "the second session is refused while the first runs"
    );
}

#[tokio::test]
async fn socks5_username_and_password_are_required_when_configured() {
    let n = node(false).await;
    let mut cfg = client_cfg(&n.url(), KEY);
    cfg.socks_auth = Some(("alice".into(), "s3cret".into()));
    let c = client(cfg).await;
    let origin = echo().await;
    let (code, mut s) = socks_auth(
        c.socks.unwrap(),
        "127.0.0.1",
        origin.port(),
        Some(("alice", "s3cret")),
    )
    .await;
    assert_eq!(code, 0);
    s.write_all(b"authed").await.unwrap();
    assert_eq!(read_n(&mut s, 6).await, b"authed");
    // An app offering only "no authentication" is turned away.
    let mut s = TcpStream::connect(c.socks.unwrap()).await.unwrap();
    s.write_all(&[5, 1, 0]).await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0xff]);
}
