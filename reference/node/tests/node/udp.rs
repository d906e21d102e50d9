//! `udp_open` / `udp_data` (§8).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::common::*;

/// A UDP echo server that also remembers the last peer so the test can push to it.
async fn udp_echo() -> (SocketAddr, Arc<UdpSocket>, Arc<Mutex<Option<SocketAddr>>>) {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = sock.local_addr().unwrap();
    let peer = Arc::new(Mutex::new(None));
    let (s2, p2) = (Arc::clone(&sock), Arc::clone(&peer));
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((k, from)) = s2.recv_from(&mut buf).await {
            *p2.lock().await = Some(from);
            let _ = s2.send_to(&buf[..k], from).await;
        }
    });
    (addr, sock, peer)
}

fn pkts(r: &Value) -> Vec<Vec<u8>> {
    r["pkts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| seqtun_wire::b64::decode(p.as_str().unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn udp_open_returns_the_answer_in_the_same_round_trip() {
    let n = node(|_| {}).await;
    let (addr, _, _) = udp_echo().await;
    let r = n
        .op(json!({"op":"udp_open","host":"127.0.0.1","port":addr.port(),"d":b64(b"dns?")}))
        .await;
    assert!(r["sid"].is_string());
    assert_eq!(pkts(&r), vec![b"dns?".to_vec()]);
    assert_eq!(r["eof"], false);
    assert!(r.get("caps").is_none());
    let sid = r["sid"].as_str().unwrap();
    let r = n
        .op(json!({"op":"udp_data","sid":sid,"d":b64(b"again")}))
        .await;
    assert_eq!(pkts(&r), vec![b"again".to_vec()]);
    let r = n.op(json!({"op":"udp_data","sid":sid})).await;
    assert_eq!(r, json!({"sid":sid,"eof":false}));
}

#[tokio::test]
async fn the_queue_drops_the_oldest_and_keeps_order() {
    let n = node(|c| c.params.udp_queue_limit = 4).await;
    let (addr, sock, peer) = udp_echo().await;
    let r = n
        .op(json!({"op":"udp_open","host":"127.0.0.1","port":addr.port(),"d":b64(b"hi")}))
        .await;
    let sid = r["sid"].as_str().unwrap().to_string();
    let to = peer.lock().await.unwrap();
    for i in 0..10u8 {
        sock.send_to(&[b'0' + i], to).await.unwrap();
    }
    within("ten datagrams to be queued", async {
        while n
            .handle
            .state
            .table
            .udp(&sid)
            .is_some_and(|s| s.queued() < 4)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    let r = n.op(json!({"op":"udp_data","sid":sid})).await;
    assert_eq!(
        pkts(&r),
        vec![b"6".to_vec(), b"7".to_vec(), b"8".to_vec(), b"9".to_vec()]
    );
}

#[tokio::test]
async fn unknown_udp_session_is_eof() {
    let n = node(|_| {}).await;
    assert_eq!(
        n.op(json!({"op":"udp_data","sid":"x"})).await,
        json!({"sid":"x","eof":true})
    );
    assert_eq!(
        n.op(json!({"op":"udp_data"})).await,
        json!({"e":"missing sid"})
    );
}

#[tokio::test]
async fn a_refused_peer_ends_the_session_with_eof() {
    let n = node(|_| {}).await;
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap().port()
    };
    let r = n
        .op(json!({"op":"udp_open","host":"127.0.0.1","port":port,"d":b64(b"x")}))
        .await;
    let sid = r["sid"].as_str().unwrap().to_string();
    let mut last = r;
    within("eof after ICMP unreachable", async {
        while last["eof"] != true {
            last = n.op(json!({"op":"udp_data","sid":sid,"d":b64(b"x")})).await;
        }
    })
    .await;
    assert_eq!(n.sessions(), 0);
}

#[tokio::test]
async fn udp_polls_keep_a_session_alive() {
    let n = node(|c| {
        c.params.udp_idle_timeout = Duration::from_secs(2);
        c.params.reap_interval = Duration::from_millis(200);
        c.params.longpoll_deadline = Duration::from_millis(600);
    })
    .await;
    let (addr, _, _) = udp_echo().await;
    let open = json!({"op":"udp_open","host":"127.0.0.1","port":addr.port(),"d":b64(b"x")});
    let idle = n.op(open.clone()).await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let polled = n.op(open).await["sid"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        let r = n.op(json!({"op":"udp_data","sid":polled})).await;
        assert_eq!(r["eof"], false, "a polled UDP session was reaped");
    }
    assert_eq!(
        n.op(json!({"op":"udp_data","sid":idle})).await,
        json!({"sid":idle,"eof":true})
    );
}
