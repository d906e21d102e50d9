//! One batch's trip to a relay (§1.5): dialects, redirects, gzip, HTML, the decoy page, errors
//! that name the fix, and fronting (connect to one address, name another in TLS and HTTP).

use std::sync::Arc;

use seqtun_client::RelaySpec;
use seqtun_client::transport::connector::{FrontConnector, tls_config};
use seqtun_client::transport::{Transport, TransportError};
use seqtun_wire::BatchOp;
use serde_json::json;

use crate::common::*;

fn transport(
    url: &str,
    front: Option<std::net::IpAddr>,
    sni: Option<&str>,
    ca: Option<&std::path::Path>,
) -> Arc<Transport> {
    let tls = tls_config(ca).unwrap();
    let connector = FrontConnector::new(front, sni.map(str::to_string), tls);
    Transport::new(
        RelaySpec::parse(url).unwrap(),
        "the-key",
        connector,
        1 << 20,
    )
}

fn send(
    t: &Arc<Transport>,
) -> tokio::task::JoinHandle<Result<seqtun_wire::BatchResponse, TransportError>> {
    let t = Arc::clone(t);
    tokio::spawn(async move { t.send(t.body(&[BatchOp::close("s")])).await })
}

fn gone() -> serde_json::Value {
    json!({"r":[{"sid":"s","eof":true}]})
}

#[tokio::test]
async fn a_node_url_gets_the_inner_dialect_at_tunnel_batch() {
    let mut node = Scripted::start().await;
    let t = transport(&node.url(), None, None, None);
    let call = send(&t);
    let asked = node.next().await;
    assert_eq!(
        (asked.method.as_str(), asked.path.as_str()),
        ("POST", "/tunnel/batch")
    );
    assert_eq!(
        asked.body,
        json!({"k":"the-key","ops":[{"op":"close","sid":"s"}]})
    );
    asked.raw(Raw::json(gone()));
    assert_eq!(call.await.unwrap().unwrap().r.len(), 1);
}

#[tokio::test]
async fn an_apps_script_url_gets_the_outer_dialect_and_its_redirect_is_followed_as_get() {
    let mut relay = Scripted::start().await;
    let t = transport(
        &format!("{}/macros/s/dep1/exec", relay.url()),
        None,
        None,
        None,
    );
    let call = send(&t);
    let post = relay.next().await;
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/macros/s/dep1/exec")
    );
    assert_eq!(post.body["t"], "batch");
    assert_eq!(post.body["k"], "the-key");
    assert!(
        post.headers["accept-encoding"]
            .to_str()
            .unwrap()
            .contains("gzip")
    );
    let loc = format!("http://{}/macros/echo?user_content_key=abc", relay.addr);
    post.raw(Raw {
        status: 302,
        headers: vec![("location", loc)],
        body: b"<a>moved</a>".to_vec(),
    });
    let get = relay.next().await;
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/macros/echo?user_content_key=abc")
    );
    get.raw(Raw::json(gone()));
    assert_eq!(call.await.unwrap().unwrap().r.len(), 1);
}

#[tokio::test]
async fn more_than_five_redirects_fail() {
    let mut relay = Scripted::start().await;
    let t = transport(
        &format!("{}/macros/s/d/exec", relay.url()),
        None,
        None,
        None,
    );
    let call = send(&t);
    for _ in 0..6 {
        relay.next().await.raw(Raw {
            status: 302,
            headers: vec![("location", "/again".into())],
            body: vec![],
        });
    }
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(err, TransportError::TooManyRedirects { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn five_redirects_are_followed() {
    let mut relay = Scripted::start().await;
    let t = transport(
        &format!("{}/macros/s/d/exec", relay.url()),
        None,
        None,
        None,
    );
    let call = send(&t);
    for _ in 0..5 {
        relay.next().await.raw(Raw {
            status: 302,
            headers: vec![("location", "/again".into())],
            body: vec![],
        });
    }
    relay.next().await.raw(Raw::json(gone()));
    assert!(call.await.unwrap().is_ok());
}

#[tokio::test]
async fn gzip_and_html_around_the_json_are_read() {
    let mut relay = Scripted::start().await;
    let t = transport(
        &format!("{}/macros/s/d/exec", relay.url()),
        None,
        None,
        None,
    );
    let call = send(&t);
    relay.next().await.raw(Raw {
        status: 200,
        headers: vec![("content-encoding", "gzip".into())],
        body: seqtun_wire::body::gzip(gone().to_string().as_bytes()),
    });
    assert_eq!(call.await.unwrap().unwrap().r.len(), 1);
    let call = send(&t);
    let html = format!("<html><body><p>{}</p></body></html>", gone());
    relay.next().await.raw(Raw {
        status: 200,
        headers: vec![("content-type", "text/html".into())],
        body: html.into_bytes(),
    });
    assert_eq!(call.await.unwrap().unwrap().r.len(), 1);
}

#[tokio::test]
async fn the_decoy_page_and_a_node_404_are_errors_that_name_the_fix() {
    let mut relay = Scripted::start().await;
    let t = transport(
        &format!("{}/macros/s/d/exec", relay.url()),
        None,
        None,
        None,
    );
    let call = send(&t);
    relay.next().await.raw(Raw {
        status: 200,
        headers: vec![("content-type", "text/html".into())],
        body: DECOY_PAGE.as_bytes().to_vec(),
    });
    let err = call.await.unwrap().unwrap_err().to_string();
    for needle in [
        "decoy",
        "--key",
        "quota",
        "timeout",
        "transient",
        "truncated",
    ] {
        assert!(err.contains(needle), "{err} lacks {needle}");
    }
    let call = send(&t);
    relay.next().await.raw(Raw {
        status: 404,
        headers: vec![],
        body: b"<center>nginx</center>".to_vec(),
    });
    let err = call.await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains("404") && err.contains("TUNNEL_AUTH_KEY"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_relay_is_named() {
    let dead = closed_port().await;
    let t = transport(&format!("http://{dead}"), None, None, None);
    let err = send(&t).await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains(&format!("http://{dead}")) && err.contains("cannot reach"),
        "{err}"
    );
}

#[tokio::test]
async fn a_front_address_is_dialled_while_host_stays_the_relays() {
    let mut relay = Scripted::start().await;
    let port = relay.addr.port();
    let url = format!("http://script.google.com:{port}/macros/s/d/exec");
    let t = transport(&url, Some("127.0.0.1".parse().unwrap()), None, None);
    let call = send(&t);
    let asked = relay.next().await;
    assert_eq!(asked.headers["host"], format!("script.google.com:{port}"));
    asked.raw(Raw::json(gone()));
    assert!(call.await.unwrap().is_ok());
}

#[tokio::test]
async fn tls_fronting_sends_the_configured_sni_and_trusts_the_ca_file() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["front.test".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("seqtun-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, certified.cert.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certified.cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let mut relay = Scripted::start().await;
    let plain = relay.addr;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    let (sni_tx, mut sni_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, sni_tx) = (acceptor.clone(), sni_tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = sni_tx.send(tls.get_ref().1.server_name().map(str::to_string));
                let mut up = tokio::net::TcpStream::connect(plain).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    let url = format!("https://script.google.com:{tls_port}/macros/s/d/exec");
    let t = transport(
        &url,
        Some("127.0.0.1".parse().unwrap()),
        Some("front.test"),
        Some(&ca),
    );
    let call = send(&t);
    let asked = relay.next().await;
    assert_eq!(
        asked.headers["host"],
        format!("script.google.com:{tls_port}")
    );
    asked.raw(Raw::json(gone()));
    assert!(call.await.unwrap().is_ok());
    assert_eq!(sni_rx.recv().await.unwrap().as_deref(), Some("front.test"));
    // Without the CA file the self-signed certificate is refused.
    let t = transport(
        &url,
        Some("127.0.0.1".parse().unwrap()),
        Some("front.test"),
        None,
    );
    let err = send(&t).await.unwrap().unwrap_err().to_string();
    assert!(err.contains("cannot reach"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failed_fronted_dial_names_the_address_it_dialled() {
    let dead = closed_port().await;
    let url = format!("https://script.google.com:{}/macros/s/d/exec", dead.port());
    let t = transport(&url, Some(dead.ip()), Some("www.google.com"), None);
    let err = send(&t).await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains(&format!("dialling {dead} (--front, for script.google.com)")),
        "{err}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_node_says_to_use_http() {
    let node = node(false).await;
    let url = node.url().replace("http://", "https://");
    let t = transport(&url, None, None, None);
    let err = send(&t).await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains("the node speaks plain HTTP, use http://"),
        "{err}"
    );
    assert!(!err.contains("InvalidContentType"), "{err}");
}

#[tokio::test]
async fn a_relay_that_closes_mid_reply_is_not_called_unreachable() {
    let relay = server(|mut s| async move {
        let mut buf = [0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
        let _ = tokio::io::AsyncWriteExt::write_all(
            &mut s,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"r\":[",
        )
        .await;
    })
    .await;
    let t = transport(&format!("http://{relay}"), None, None, None);
    let err = send(&t).await.unwrap().unwrap_err();
    assert!(matches!(err, TransportError::MidReply { .. }), "{err}");
    assert!(
        err.to_string().contains("closed the connection mid-reply"),
        "{err}"
    );
}

#[tokio::test]
async fn a_404_page_is_summarised_on_one_line() {
    let mut relay = Scripted::start().await;
    let t = transport(&relay.url(), None, None, None);
    let call = send(&t);
    relay.next().await.raw(Raw {
        status: 404,
        headers: vec![],
        body: seqtun_node::auth::NGINX_404.as_bytes().to_vec(),
    });
    let err = call.await.unwrap().unwrap_err().to_string();
    assert!(!err.contains('\n') && !err.contains('<'), "{err}");
    assert!(err.contains("404 Not Found"), "{err}");
}
