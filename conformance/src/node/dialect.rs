//! Which dialect a node speaks (PROTOCOL.md §11.4), found by probing before the cases run:
//! `caps` on a connect reply, whether `seq` is echoed, and whether a seq'd op sent ahead of its
//! predecessor is really held back. Only the last proves ordering; echo alone never does.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::Fixtures;
use crate::http::{Http, HttpError};
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
    /// The probe itself failed.
    Unknown(String),
}

impl Dialect {
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
            Dialect::Unknown(why) => format!("unknown ({why})"),
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
            Dialect::Legacy | Dialect::Inconsistent { .. } | Dialect::Unknown(_) => &[],
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

/// Why one probe request gave no batch reply.
pub(super) enum ProbeError {
    /// Nothing answered at all: a setup problem, not a dialect.
    Unreachable(HttpError),
    Odd(String),
}

impl From<String> for ProbeError {
    fn from(why: String) -> Self {
        ProbeError::Odd(why)
    }
}

pub(super) async fn one(http: &Http, target: &NodeTarget, op: Value) -> Result<Value, ProbeError> {
    let ex = http
        .post(&url(target), batch_body(target, json!([op])))
        .await
        .map_err(|e| match e {
            HttpError::Url(..) | HttpError::Transport(..) => ProbeError::Unreachable(e),
            other => ProbeError::Odd(other.to_string()),
        })?;
    ex.json()
        .and_then(|v| v.get("r").and_then(|r| r.get(0)).cloned())
        .ok_or_else(|| {
            ProbeError::Odd(format!(
                "not a batch reply: HTTP {} {}",
                ex.status,
                String::from_utf8_lossy(&ex.body)
            ))
        })
}

/// Probes the node and names its dialect; an error means nothing answered at the target's URL
/// (a setup problem: wrong address, node not running), which no case result could explain.
pub async fn detect(target: &NodeTarget, http: &Http) -> Result<Dialect, HttpError> {
    match probe(target, http).await {
        Ok(d) => Ok(d),
        Err(ProbeError::Unreachable(e)) => Err(e),
        Err(ProbeError::Odd(why)) => Ok(Dialect::Unknown(why)),
    }
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
        .ok_or_else(|| format!("connect to a fixture failed: {reply}"))?
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
