//! Real curl through the client: `--socks5-hostname` and `-p -x http://` to a loopback HTTP
//! origin, through an in-process node. Skipped, with the reason printed, where curl is absent.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

/// An HTTP/1.1 origin that answers every request with a fixed body naming the request path.
async fn origin() -> SocketAddr {
    server(|mut s| async move {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let body = format!("hello from the origin: {line}\n");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await
}

fn have_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn curl(args: &[&str]) -> String {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "30", "--noproxy", ""])
        .args(args)
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_socks5_hostname_and_http_connect() {
    if !have_curl() {
        eprintln!(
            "SKIPPED curl_through_socks5_hostname_and_http_connect: curl is not installed (CI installs it)"
        );
        return;
    }
    for legacy in [false, true] {
        let node = node(legacy).await;
        let c = client(client_cfg(&node.url(), KEY)).await;
        let origin = origin().await;
        let socks = c.socks.unwrap().to_string();
        let http = format!("http://{}", c.http.unwrap());
        let url = format!("http://localhost:{}/via-socks", origin.port());
        let body = within("curl socks", curl(&["--socks5-hostname", &socks, &url])).await;
        assert_eq!(body, "hello from the origin: GET /via-socks HTTP/1.1\n");
        let url = format!("http://127.0.0.1:{}/via-connect", origin.port());
        let body = within("curl connect", curl(&["-p", "-x", &http, &url])).await;
        assert_eq!(body, "hello from the origin: GET /via-connect HTTP/1.1\n");
        c.shutdown().await;
        node.shutdown().await;
    }
}
