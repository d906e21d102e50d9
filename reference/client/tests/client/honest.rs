//! Errors reach the app (§6.7): with the default optimistic open (`--first-data-wait-ms 50`),
//! a wrong key, an http/https mix-up and a refused port reach curl as a SOCKS5 reply code or
//! an HTTP 502, not as "(52) Empty reply from server". Skipped, with the reason printed,
//! where curl is absent.

use std::time::Duration;

use crate::common::*;

fn have_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// curl's exit code and stderr.
async fn curl_fails(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--noproxy", ""])
        .args(args)
        .env_remove("http_proxy")
        .env_remove("all_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "curl {args:?} succeeded");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both front ends answer honestly: SOCKS5 with `socks_code`, CONNECT with `status`.
async fn both_answer(c: &seqtun_client::ClientHandle, target: &str, socks_code: u8, status: u16) {
    let url = format!("http://{target}/");
    let socks = c.socks.unwrap().to_string();
    let (code, err) = curl_fails(&["--socks5-hostname", &socks, &url]).await;
    assert_ne!(code, 52, "{err}");
    assert!(
        err.contains("SOCKS5") && err.contains(&format!("({socks_code})")),
        "SOCKS5 reply {socks_code} expected: {err}"
    );
    let http = format!("http://{}", c.http.unwrap());
    let (code, err) = curl_fails(&["-p", "-x", &http, &url]).await;
    assert_ne!(code, 52, "{err}");
    assert!(
        err.contains(&format!("response {status}")),
        "HTTP {status} expected: {err}"
    );
}

fn default_open(mut cfg: seqtun_client::ClientConfig) -> seqtun_client::ClientConfig {
    cfg.params.first_data_wait = seqtun_wire::client::params::FIRST_DATA_WAIT;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_reaches_curl_as_a_socks_code_and_a_502() {
    if !have_curl() {
        eprintln!("SKIPPED a_wrong_key_reaches_curl...: curl is not installed (CI installs it)");
        return;
    }
    let node = node(false).await;
    let c = client(default_open(client_cfg(&node.url(), "not-the-key"))).await;
    let origin = echo().await;
    within("curl", both_answer(&c, &origin.to_string(), 1, 502)).await;
    // Counted just after the app was answered.
    within("the refusals to be counted", async {
        while c.stats.snapshot().open_failures < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_node_reaches_curl_as_a_socks_code_and_a_502() {
    if !have_curl() {
        eprintln!("SKIPPED https_to_a_plain_http_node...: curl is not installed (CI installs it)");
        return;
    }
    let node = node(false).await;
    let url = node.url().replace("http://", "https://");
    let c = client(default_open(client_cfg(&url, KEY))).await;
    let origin = echo().await;
    within("curl", both_answer(&c, &origin.to_string(), 1, 502)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_is_answered_honestly_and_after_an_optimistic_grant_once_reset() {
    if !have_curl() {
        eprintln!("SKIPPED a_refused_port...: curl is not installed (CI installs it)");
        return;
    }
    let node = node(false).await;
    let c = client(default_open(client_cfg(&node.url(), KEY))).await;
    let closed = closed_port().await;
    // A fresh client has not seen its relay path work: it waits for the node, so even the
    // first try is answered with the real code.
    within("curl", both_answer(&c, &closed.to_string(), 5, 502)).await;
    // Once the path works and the remembered failure expired, a new target opens
    // optimistically; a refusal then can only reset the connection (once), and the next
    // connection to that target is answered honestly again.
    let up = echo().await;
    let mut s = within(
        "an echo session",
        socks(c.socks.unwrap(), "127.0.0.1", up.port()),
    )
    .await;
    assert_eq!(s.0, 0);
    tokio::io::AsyncWriteExt::write_all(&mut s.1, b"x")
        .await
        .unwrap();
    assert_eq!(read_n(&mut s.1, 1).await, b"x");
    let other = closed_port().await;
    let url = format!("http://{other}/");
    let (code, err) = curl_fails(&["--socks5-hostname", &c.socks.unwrap().to_string(), &url]).await;
    assert!(
        code == 56 || code == 52,
        "reset after the grant: {code} {err}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    within("curl", both_answer(&c, &other.to_string(), 5, 502)).await;
}
