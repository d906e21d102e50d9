//! Fixtures: a real seqtun-node behind a relay on loopback, and a client that speaks the
//! outer dialect. Upstream servers and the fake node are in `upstream`.

pub use crate::upstream::*;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use seqtun_node::{NodeConfig, NodeHandle};
use seqtun_relay::{RelayConfig, RelayHandle};
use serde_json::{Value, json};

pub const NODE_KEY: &str = "node-key";
pub const RELAY_KEY: &str = "relay-key";
pub const DEP: &str = "dep1";

pub type Http = Client<HttpConnector, Full<Bytes>>;

/// What an HTTP exchange produced.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn is_decoy(&self) -> bool {
        self.status == StatusCode::OK
            && self.text().contains(seqtun_relay::pages::DECOY_TEXT)
            && self.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
    }
}

pub fn http() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs `body`; `Err` when the connection ended without a response.
pub async fn post(http: &Http, url: &str, body: impl Into<Bytes>) -> Result<Answer, String> {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap();
    send(http, req).await
}

pub async fn get(http: &Http, url: &str) -> Result<Answer, String> {
    send(
        http,
        Request::get(url).body(Full::new(Bytes::new())).unwrap(),
    )
    .await
}

async fn send(http: &Http, req: Request<Full<Bytes>>) -> Result<Answer, String> {
    let resp = http.request(req).await.map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// A real node with a relay in front of it.
pub struct Chain {
    pub node: NodeHandle,
    pub relay: RelayHandle,
    pub http: Http,
}

/// Starts a node (long-poll shortened so idle polls return quickly) and a relay in front of
/// it, each adjusted by its closure.
pub async fn chain(
    node_tweak: impl FnOnce(&mut NodeConfig),
    relay_tweak: impl FnOnce(&mut RelayConfig),
) -> Chain {
    let mut ncfg = NodeConfig::new(NODE_KEY);
    ncfg.params.longpoll_deadline = Duration::from_millis(500);
    node_tweak(&mut ncfg);
    let node = seqtun_node::spawn(ncfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut rcfg = RelayConfig::new(node.url(), NODE_KEY, RELAY_KEY);
    relay_tweak(&mut rcfg);
    let relay = seqtun_relay::spawn(rcfg).await.unwrap();
    Chain {
        node,
        relay,
        http: http(),
    }
}

/// A relay with default settings in front of a default node.
pub async fn plain() -> Chain {
    chain(|_| {}, |_| {}).await
}

impl Chain {
    /// POSTs an outer-dialect body to deployment `dep`.
    pub async fn call(&self, dep: &str, body: Value) -> Result<Answer, String> {
        post(&self.http, &self.relay.url_for(dep), body.to_string()).await
    }

    /// `{k, t:"batch", ops}` to DEP; the raw answer.
    pub async fn batch_raw(&self, ops: Value) -> Result<Answer, String> {
        self.call(DEP, json!({"k": RELAY_KEY, "t": "batch", "ops": ops}))
            .await
    }

    /// `{k, t:"batch", ops}` to DEP, expecting HTTP 200 JSON with one reply per op.
    pub async fn batch(&self, ops: Value) -> Vec<Value> {
        let n = ops.as_array().map_or(0, Vec::len);
        let answer = self.batch_raw(ops).await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let v = answer.json();
        let r = v["r"]
            .as_array()
            .unwrap_or_else(|| panic!("no r: {v}"))
            .clone();
        assert_eq!(r.len(), n, "len(r) != len(ops): {v}");
        r
    }

    pub async fn op(&self, op: Value) -> Value {
        self.batch(json!([op])).await.remove(0)
    }

    /// Opens a TCP session to `addr` through the relay; returns its sid.
    pub async fn connect(&self, addr: SocketAddr) -> String {
        let r = self
            .op(json!({"op":"connect","host":"127.0.0.1","port":addr.port()}))
            .await;
        r["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("connect failed: {r}"))
            .to_owned()
    }
}

pub fn b64(bytes: &[u8]) -> String {
    seqtun_wire::b64::encode(bytes)
}

/// The decoded `d` of a reply (empty when absent).
pub fn d(reply: &Value) -> Vec<u8> {
    reply["d"]
        .as_str()
        .map(|s| seqtun_wire::b64::decode(s).unwrap())
        .unwrap_or_default()
}

/// Polls `f` until it returns true (up to 10 s).
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The Node.js binary, if installed (`NODE_BINARY` overrides the search).
pub fn node_js() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("NODE_BINARY") {
        return Some(path.into());
    }
    let ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| "node".into())
}

/// Runs `program args` with `input` on stdin; returns stdout, panicking with stderr on failure.
pub fn run_with_stdin(program: &std::path::Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
