//! Plain-proxy HTTP (absolute-form requests) through the HTTP listener: `curl -x` without
//! `-p`, and headless Chromium with `--proxy-server`, to a loopback origin. Skipped, with the
//! reason printed, where curl or Chromium is absent (CI installs both).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

/// An HTTP/1.1 origin answering an HTML page that names the request line and Host header.
async fn origin() -> SocketAddr {
    server(|mut s| async move {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let line = text.lines().next().unwrap_or_default().to_string();
        let proxy_header = text.to_ascii_lowercase().contains("proxy-connection");
        let body = format!(
            "<html><body><p id=\"line\">origin saw: {line}</p><p>proxy header leaked: {proxy_header}</p></body></html>"
        );
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await
}

fn have(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn curl_x(proxy: SocketAddr, url: &str) -> (String, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(["-x", &format!("http://{proxy}"), url])
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_string(), code.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_x_sends_absolute_form_and_gets_the_origin_or_an_honest_502() {
    if !have("curl", "--version") {
        eprintln!("SKIPPED curl_x_sends_absolute_form...: curl is not installed (CI installs it)");
        return;
    }
    let node = node(false).await;
    let c = client(client_cfg(&node.url(), KEY)).await;
    let origin = origin().await;
    let url = format!("http://127.0.0.1:{}/some/page?q=1", origin.port());
    let (body, code) = within("curl -x", curl_x(c.http.unwrap(), &url)).await;
    assert_eq!(code, "200", "{body}");
    assert!(
        body.contains("origin saw: GET /some/page?q=1 HTTP/1.1"),
        "origin form: {body}"
    );
    assert!(body.contains("proxy header leaked: false"), "{body}");
    // Two requests in a row on fresh connections, and a refused port answered 502 with why.
    let (body, code) = within("curl -x again", curl_x(c.http.unwrap(), &url)).await;
    assert_eq!(code, "200", "{body}");
    let closed = closed_port().await;
    let (body, code) = within(
        "curl -x refused",
        curl_x(c.http.unwrap(), &format!("http://{closed}/")),
    )
    .await;
    assert_eq!(code, "502", "{body}");
    assert!(body.contains("refused"), "{body}");
    assert_eq!(c.stats.snapshot().plain_sessions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_browses_through_the_http_proxy() {
    let chromium = "chromium";
    if !have(chromium, "--version") {
        eprintln!(
            "SKIPPED headless_chromium...: chromium is not installed (CI installs it with apt)"
        );
        return;
    }
    let node = node(false).await;
    let c = client(client_cfg(&node.url(), KEY)).await;
    let origin = origin().await;
    let profile = std::env::temp_dir().join(format!("seqtun-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let run = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--proxy-server=http://{}", c.http.unwrap()))
        // Chromium never proxies loopback unless told to.
        .arg("--proxy-bypass-list=<-loopback>")
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{}/from-chromium", origin.port()))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finished within 90 s")
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("origin saw: GET /from-chromium HTTP/1.1"),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(c.stats.snapshot().plain_sessions >= 1);
}
