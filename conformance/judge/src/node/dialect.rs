//! Which dialect a node speaks (PROTOCOL.md §11.4), found by probing before the cases run:
//! `caps` on a connect reply, whether `seq` is echoed, and whether a seq'd op sent ahead of its
//! predecessor is really held back. Only the last proves ordering; echo alone never does.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::Fixtures;
use crate::http::{Http, HttpError};
use crate::matcher::bytes::body_text;
use crate::target::NodeTarget;

/// How long the probe gives a held seq'd op to (wrongly) reach the upstream.
const HOLD_PROBE: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// No `caps`, no echo: a pre-#903 node.
    Legacy,
    /// `caps` bit 0 and seq'd ops ordered: PR #903 (seqtun); `replay_safe` when `caps` bit 1
    /// says the node also holds replies for retransmits (§7.10).
    Pr903 { replay_safe: bool },
    /// Echoes `seq` without `caps` and without ordering: PR #1115 or alike.
    Pr1115Like,
    /// Answers the probe in a combination no deployed dialect has, e.g. `caps` bit 0 without
    /// ordering. Its cases run by what it claims: a node that advertises `caps` is held to #903,
    /// so a broken claim fails cases instead of hiding them as ignored.
    Inconsistent { why: String, caps: bool, echo: bool },
}

impl Dialect {
    /// A short name for table headers.
    pub fn short(&self) -> &'static str {
        match self {
            Dialect::Legacy => "legacy",
            Dialect::Pr903 { replay_safe: false } => "#903",
            Dialect::Pr903 { replay_safe: true } => "#903+replay",
            Dialect::Pr1115Like => "#1115-like",
            Dialect::Inconsistent { .. } => "inconsistent",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Dialect::Legacy => "legacy (no caps, seq not echoed)".into(),
            Dialect::Pr903 { replay_safe: false } => {
                "#903 (caps bit 0, seq echoed and ordered)".into()
            }
            Dialect::Pr903 { replay_safe: true } => {
                "#903 (caps bit 0, seq echoed and ordered) with replay-safe seq (caps bit 1)".into()
            }
            Dialect::Pr1115Like => {
                "#1115-like (echoes seq but does not order it; echo is not ordering)".into()
            }
            Dialect::Inconsistent { why, .. } => format!("inconsistent ({why})"),
        }
    }

    /// The features this dialect implies.
    pub fn features(&self) -> &'static [&'static str] {
        use crate::target::features::*;
        match self {
            Dialect::Pr903 { replay_safe: false } => &[PIPELINE_SEQ, SEQ_ECHO],
            Dialect::Pr903 { replay_safe: true } => &[PIPELINE_SEQ, SEQ_ECHO, REPLAY_SAFE],
            Dialect::Pr1115Like => &[SEQ_ECHO],
            Dialect::Inconsistent { caps: true, .. } => &[PIPELINE_SEQ, SEQ_ECHO],
            Dialect::Inconsistent { echo: true, .. } => &[SEQ_ECHO],
            Dialect::Legacy | Dialect::Inconsistent { .. } => &[],
        }
    }
}

fn batch_body(target: &NodeTarget, ops: Value) -> Vec<u8> {
    let mut env = json!({"k": target.key, "ops": ops});
    if target.relay_url.is_some() {
        env["t"] = json!("batch");
    }
    env.to_string().into_bytes()
}

fn url(target: &NodeTarget) -> String {
    target
        .relay_url
        .clone()
        .unwrap_or_else(|| format!("{}/tunnel/batch", target.url))
}

/// Why the probe gave no dialect. Each is a setup problem no case result could explain, so the
/// run stops before the first case (exit 2) with the fix.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered at all.
    #[error(
        "nothing answered the dialect probe: {0} (is the node running, and are --url / --relay-url and the port right?)"
    )]
    Unreachable(HttpError),
    /// The target answered with the page it shows a wrong key.
    #[error("the probe was refused: {0}")]
    WrongKey(String),
    #[error("the dialect probe failed: {0}")]
    Odd(String),
}

impl From<String> for ProbeError {
    fn from(why: String) -> Self {
        ProbeError::Odd(why)
    }
}

/// The text of the Apps Script decoy page (PROTOCOL.md §1.5).
const DECOY_TEXT: &str = "The script completed but did not return anything.";

/// Recognises the answers a wrong key gets (PROTOCOL.md §1.4, §1.5) and names the fix.
pub(super) fn wrong_key(target: &NodeTarget, status: u16, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let page = if status == 404 && text.contains("nginx") {
        "nginx's 404 page, which a node shows a wrong key"
    } else if text.contains(DECOY_TEXT) {
        "the Apps Script decoy page (\"The script completed but did not return anything.\"), which a relay shows a wrong key"
    } else if json.as_ref().and_then(|v| v.get("e")) == Some(&json!("unauthorized")) {
        "{\"e\":\"unauthorized\"} (a diagnostic-mode wrong-key answer)"
    } else {
        return None;
    };
    let fix = match target.relay_url {
        Some(_) => {
            "compare --key with the relay script's key (AUTH_KEY or RELAY_KEY in the script; \
             seqtun-relay's --key / RELAY_AUTH_KEY); if they match, the relay's node key \
             (NODE_KEY, --node-key) must equal the node's TUNNEL_AUTH_KEY"
        }
        None => "compare --key (or SEQTUN_KEY) with the node's TUNNEL_AUTH_KEY (seqtun-node --key)",
    };
    Some(format!("HTTP {status} with {page}: {fix}"))
}

pub(super) async fn one(http: &Http, target: &NodeTarget, op: Value) -> Result<Value, ProbeError> {
    let ex = http
        .post(&url(target), batch_body(target, json!([op])))
        .await
        .map_err(|e| match e {
            HttpError::Url(..) | HttpError::Transport(..) | HttpError::Timeout(..) => {
                ProbeError::Unreachable(e)
            }
            other => ProbeError::Odd(other.to_string()),
        })?;
    if let Some(why) = wrong_key(target, ex.status, &ex.body) {
        return Err(ProbeError::WrongKey(why));
    }
    ex.json()
        .and_then(|v| v.get("r").and_then(|r| r.get(0)).cloned())
        .ok_or_else(|| {
            ProbeError::Odd(format!(
                "not a batch reply: HTTP {} with {}",
                ex.status,
                body_text(&ex.body)
            ))
        })
}

/// Probes the node and names its dialect.
pub async fn detect(target: &NodeTarget, http: &Http) -> Result<Dialect, ProbeError> {
    probe(target, http).await
}

async fn probe(target: &NodeTarget, http: &Http) -> Result<Dialect, ProbeError> {
    let mut fixtures = Fixtures::default();
    let sink = fixtures
        .sink("probe", target.fixture_ip, &target.params)
        .await
        .map_err(|e| e.to_string())?;
    let connect =
        json!({"op":"connect","host":target.fixture_ip.to_string(),"port":sink.addr.port()});
    let reply = one(http, target, connect).await?;
    let sid = reply
        .get("sid")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "the node could not connect to the runner's fixture at {}:{}: {reply} (the node \
                 must reach --fixture-addr; set it to an address of this machine the node can reach)",
                target.fixture_ip,
                sink.addr.port()
            )
        })?
        .to_string();
    let caps_bits = reply.get("caps").and_then(Value::as_u64).unwrap_or(0);
    let caps = caps_bits & 1 == 1;
    // Bit 1 means something only beside bit 0 (§7.10).
    let replay_safe = caps && caps_bits & 2 == 2;

    // seq 1 first, alone: an ordering node holds it until seq 0 arrives.
    let (h, t) = (http.clone(), target.clone());
    let op1 = json!({"op":"data","sid":sid,"seq":1,"d":"Qg=="});
    let later = tokio::spawn(async move { one(&h, &t, op1).await });
    tokio::time::sleep(HOLD_PROBE).await;
    let early = sink.snapshot().0;
    let r0 = one(
        http,
        target,
        json!({"op":"data","sid":sid,"seq":0,"d":"QQ=="}),
    )
    .await?;
    let r1 = later.await.map_err(|e| e.to_string())??;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sink.snapshot().0.len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = one(http, target, json!({"op":"close","sid":sid})).await;
    let echo = r0.get("seq") == Some(&json!(0)) && r1.get("seq") == Some(&json!(1));
    let ordered = early.is_empty() && sink.snapshot().0 == b"AB";
    let odd = |why: &str| Dialect::Inconsistent {
        why: why.into(),
        caps,
        echo,
    };
    Ok(match (caps, echo, ordered) {
        (true, true, true) => Dialect::Pr903 { replay_safe },
        (false, false, _) => Dialect::Legacy,
        (false, true, false) => Dialect::Pr1115Like,
        (true, _, false) => odd("advertises caps bit 0 but wrote seq 1 before seq 0"),
        (true, false, true) => odd("advertises caps bit 0 and orders, but does not echo seq"),
        (false, true, true) => odd("orders and echoes seq but does not advertise caps"),
    })
}
