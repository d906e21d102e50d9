//! The node's request path without sockets to the client: `seqtun_node::routes::batch_body`
//! and `single_body`, on a node whose clock is paused (long-polls and seq waits pass at once).
//!
//! Ops that would dial are pointed at the harness's own loopback echo servers before the body
//! reaches the node: the harness parses the body with the node's own functions, so it knows
//! exactly which ops the node would run, and rewrites the host and port of those (and of no
//! other). No fuzz input can make the node resolve a name or dial another address.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use seqtun_node::memory::Class;
use seqtun_node::{NodeConfig, NodeState, routes};
use seqtun_wire::body::{decode_body, gzip};
use seqtun_wire::ops::raw::parse_ops;
use seqtun_wire::probe::{nesting_within_limit, probe_batch, probe_single};
use seqtun_wire::{BatchOp, OpKind, SingleRequest};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::runtime::Runtime;

pub const KEY: &str = "fuzz-key";
const MAX_BODY: usize = 1 << 20;

struct Harness {
    rt: Runtime,
    state: Arc<NodeState>,
    tcp: SocketAddr,
    udp: SocketAddr,
}

thread_local! {
    static HARNESS: Harness = Harness::new();
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let (state, tcp, udp) = rt.block_on(async {
            let mut cfg = NodeConfig::new(KEY);
            cfg.params.max_body_bytes = MAX_BODY;
            cfg.params.max_sessions = 64;
            cfg.params.memory_budget = 8 << 20;
            cfg.params.read_buf_cap = 256 << 10;
            let state = Arc::new(NodeState::new(cfg));
            (state, echo_tcp().await, echo_udp().await)
        });
        Self {
            rt,
            state,
            tcp,
            udp,
        }
    }

    /// Sends `body` to the node's batch path; the status and the answer's bytes.
    fn post(&self, single: bool, body: Vec<u8>) -> (u16, Vec<u8>) {
        let state = &self.state;
        self.rt.block_on(async {
            let charge = state.memory().charge(Class::Bodies);
            let resp = if single {
                routes::single_body(state, Bytes::from(body), charge).await
            } else {
                routes::batch_body(state, Bytes::from(body), charge).await
            };
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .expect("infallible")
                .to_bytes();
            state.table.close_all().await;
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            (status, bytes.to_vec())
        })
    }

    fn used(&self) -> usize {
        self.state.memory().used()
    }
}

async fn echo_tcp() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn echo_udp() -> SocketAddr {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = s.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    addr
}

/// The first byte picks how the rest is sent: bit 0 gzips the body, bit 1 wraps the rest as
/// the `ops` of an envelope with the right key.
pub fn batch(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut body = rest.to_vec();
    if mode & 2 != 0 {
        body = [format!(r#"{{"k":"{KEY}","ops":"#).as_bytes(), rest, b"}"].concat();
    }
    if mode & 1 != 0 {
        body = gzip(&body);
    }
    HARNESS.with(|h| h.batch(body));
}

impl Harness {
    fn batch(&self, body: Vec<u8>) {
        let probe = probe_batch(&body, MAX_BODY);
        let json = decode_body(&body, MAX_BODY).ok();
        if let Some(json) = &json {
            probe_finds_every_valid_envelope(json, &probe);
        }
        let limit = self.state.cfg.params.max_batch_ops;
        let (sent, expect) = match &probe {
            Err(_) => (body, Expect::OneError),
            Ok(p) if p.k.as_deref() != Some(KEY) => (body, Expect::NotFound),
            Ok(p) if p.ops.unwrap_or(0) > limit => (body, Expect::Replies(p.ops.unwrap_or(0))),
            Ok(p) => {
                let json = json.expect("a probed body inflates");
                // serde checks strings it skips less strictly than strings it keeps (a lone
                // surrogate escape passes the probe, not the raw-op parse): such a batch fails
                // whole with `bad json` after the key check, a whole-request error (§3.1).
                if parse_ops(&json).is_err() {
                    (body, Expect::OneError)
                } else {
                    (self.canonical(&json), Expect::Replies(p.ops.unwrap_or(0)))
                }
            }
        };
        let (status, answer) = self.post(false, sent);
        expect.check(status, &answer);
        assert_eq!(self.used(), 0, "the memory budget's books drift");
    }

    /// The body with only the key and the ops, dialling ops pointed at the echo servers.
    fn canonical(&self, json: &[u8]) -> Vec<u8> {
        #[derive(Deserialize)]
        struct Raws<'a> {
            #[serde(borrow)]
            ops: Vec<&'a RawValue>,
        }
        let raws: Raws<'_> = serde_json::from_slice(json).expect("a probed envelope parses");
        let ops: Vec<String> = raws
            .ops
            .iter()
            // What `Op::from_raw` reads first: an op that parses as its wire form.
            .map(|raw| match serde_json::from_str::<BatchOp>(raw.get()) {
                Ok(op) if op.opens_session() => {
                    serde_json::to_string(&self.aimed(op)).expect("serialises")
                }
                _ => raw.get().to_owned(),
            })
            .collect();
        format!(r#"{{"k":"{KEY}","ops":[{}]}}"#, ops.join(",")).into_bytes()
    }

    fn aimed(&self, mut op: BatchOp) -> BatchOp {
        let to = if op.kind() == OpKind::UdpOpen {
            self.udp
        } else {
            self.tcp
        };
        op.host = Some(to.ip().to_string());
        op.port = Some(to.port());
        op
    }
}

/// A body serde_json reads as a plain envelope (no duplicate `k` or `ops`, `k` a string or
/// null, `ops` an array, within the nesting limit) is one the probe accepts, with the same key
/// and op count.
fn probe_finds_every_valid_envelope(
    json: &[u8],
    probe: &Result<seqtun_wire::probe::Probe, seqtun_wire::probe::ProbeError>,
) {
    #[derive(Deserialize)]
    struct Strict {
        #[serde(default)]
        k: Option<String>,
        ops: Vec<IgnoredAny>,
    }
    let Ok(strict) = serde_json::from_slice::<Strict>(json) else {
        return;
    };
    if !nesting_within_limit(json)
        || json.len() >= seqtun_wire::probe::MAX_ENVELOPE_TOKEN
        || serde_json::from_slice::<Value>(json).is_err()
    {
        return;
    }
    let p = probe.as_ref().expect("the probe accepts a valid envelope");
    assert_eq!(p.k, strict.k);
    assert_eq!(p.ops, Some(strict.ops.len()));
}

enum Expect {
    OneError,
    NotFound,
    Replies(usize),
}

impl Expect {
    fn check(&self, status: u16, answer: &[u8]) {
        match self {
            Expect::NotFound => {
                assert_eq!(status, 404);
                assert!(String::from_utf8_lossy(answer).contains("<center>nginx</center>"));
            }
            Expect::OneError => {
                assert_eq!(status, 200);
                let r = replies(answer);
                assert_eq!(r.len(), 1, "a whole-batch error has one entry");
                let e = r[0]["e"].as_str().unwrap_or_default();
                assert!(
                    e.starts_with("bad json: ") || e.starts_with("gzip decode: "),
                    "{e}"
                );
            }
            Expect::Replies(n) => {
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(answer));
                assert_eq!(replies(answer).len(), *n, "len(r) != len(ops)");
            }
        }
    }
}

fn replies(answer: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(answer).expect("the answer is JSON");
    v["r"].as_array().cloned().expect("the answer has r")
}

/// A single-op body (plain JSON): one reply object with the right key, nginx's 404 with a
/// wrong one, `bad json` for a body that is not an object.
pub fn single(data: &[u8]) {
    HARNESS.with(|h| {
        let probe = probe_single(data);
        let (sent, key_ok) = match &probe {
            Ok(p) if p.k.as_deref() == Some(KEY) => {
                match serde_json::from_slice::<SingleRequest>(data) {
                    Ok(req) => (h.aimed_single(req), true),
                    Err(_) => (data.to_vec(), true),
                }
            }
            _ => (data.to_vec(), false),
        };
        let (status, answer) = h.post(true, sent);
        match &probe {
            Err(_) => {
                assert_eq!(status, 200);
                let v: Value = serde_json::from_slice(&answer).expect("JSON");
                assert!(
                    v["e"].as_str().is_some_and(|e| e.starts_with("bad json: ")),
                    "{v}"
                );
            }
            Ok(_) if !key_ok => assert_eq!(status, 404),
            Ok(_) => {
                assert_eq!(status, 200);
                let v: Value = serde_json::from_slice(&answer).expect("JSON");
                assert!(v.is_object(), "{v}");
            }
        }
        assert_eq!(h.used(), 0, "the memory budget's books drift");
    });
}

impl Harness {
    fn aimed_single(&self, mut req: SingleRequest) -> Vec<u8> {
        if matches!(req.op.as_str(), "connect" | "connect_data") {
            req.host = Some(self.tcp.ip().to_string());
            req.port = Some(self.tcp.port());
        }
        serde_json::to_vec(&req).expect("serialises")
    }
}
