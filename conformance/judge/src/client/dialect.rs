//! Which dialect a client speaks (PROTOCOL.md §11.4), seen from the node's side: does it send
//! `seq` on a session whose connect reply had no `caps` (#1115-like, or broken), only after
//! `caps` bit 0 (#903), or never (legacy)?

use std::time::Duration;

use serde_json::{Value, json};

use super::ClientTarget;
use super::app::App;
use super::fake::FakeNode;
use super::launch::{LaunchError, Started};
use crate::case::Via;

const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientDialect {
    Legacy,
    Pr903,
    Pr1115Like,
    Unknown(String),
}

impl ClientDialect {
    /// A short name for table headers.
    pub fn short(&self) -> &'static str {
        match self {
            ClientDialect::Legacy => "legacy",
            ClientDialect::Pr903 => "#903",
            ClientDialect::Pr1115Like => "#1115-like",
            ClientDialect::Unknown(_) => "unknown",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ClientDialect::Legacy => "legacy (never sends seq)".into(),
            ClientDialect::Pr903 => "#903 (sends seq only after caps bit 0)".into(),
            ClientDialect::Pr1115Like => "#1115-like (sends seq without caps)".into(),
            ClientDialect::Unknown(why) => format!("unknown ({why})"),
        }
    }

    pub fn features(&self) -> &'static [&'static str] {
        match self {
            ClientDialect::Pr903 => &[crate::target::features::PIPELINE_SEQ],
            _ => &[],
        }
    }
}

/// Waits for the first op of `kind` on `sid` (or any connect-like op when `sid` is None).
async fn next_op(fake: &FakeNode, after: usize, want: impl Fn(&Value) -> bool) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let changed = crate::wake::armed(&fake.changed);
        let found = {
            let inner = fake.state.lock().unwrap_or_else(|p| p.into_inner());
            inner
                .ops
                .iter()
                .enumerate()
                .skip(after)
                .find(|(_, o)| want(&o.op))
                .map(|(i, _)| i)
        };
        if found.is_some() {
            return found;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return None;
        }
    }
}

/// Opens one session answered with `caps`, and reports whether its first `data` op had `seq`.
async fn session(
    fake: &FakeNode,
    front: std::net::SocketAddr,
    via: Via,
    sid: &str,
    caps: Option<u32>,
) -> Result<bool, String> {
    let after = fake.state.lock().map(|i| i.ops.len()).unwrap_or(0);
    let app = App::open(front, via, "probe.invalid".into(), 443, None, Vec::new());
    let is_connect = |o: &Value| {
        matches!(
            o.get("op").and_then(Value::as_str),
            Some("connect" | "connect_data")
        )
    };
    let c = next_op(fake, after, is_connect)
        .await
        .ok_or("the client sent no connect for a new app connection")?;
    let mut reply = json!({"sid": sid, "eof": false});
    if let Some(c) = caps {
        reply["caps"] = json!(c);
    }
    fake.reply(c, reply);
    let mut rx = app.handshake.clone();
    let _ = tokio::time::timeout(WAIT, rx.wait_for(|h| *h != super::app::Handshake::Pending)).await;
    let _ = app.send(b"probe").await;
    let sid_owned = sid.to_string();
    let d = next_op(fake, after, move |o| {
        o.get("op") == Some(&json!("data")) && o.get("sid") == Some(&json!(sid_owned))
    })
    .await;
    let d = d.ok_or("the client sent no data op on an open session")?;
    let seq = fake
        .state
        .lock()
        .map(|i| i.ops[d].op.get("seq").cloned())
        .ok()
        .flatten();
    let mut answer = json!({"sid": sid, "eof": true});
    if let Some(s) = &seq {
        answer["seq"] = s.clone();
    }
    fake.reply(d, answer);
    app.close().await;
    Ok(seq.is_some())
}

/// Probes a client with two sessions: one without `caps`, one with `caps: 1`. An error means
/// the client did not start at all, a setup problem no case could explain.
pub async fn detect(target: &ClientTarget) -> Result<ClientDialect, LaunchError> {
    let fake = match FakeNode::start().await {
        Ok(f) => f,
        Err(e) => return Ok(ClientDialect::Unknown(e.to_string())),
    };
    let client = match target
        .launcher
        .start(&target.url_for(&fake), &target.key)
        .await
    {
        Ok(c) => c,
        Err(LaunchError::Unsupported(why)) => {
            return Ok(ClientDialect::Unknown(format!(
                "the client exited with code 89 (unsupported): {why}"
            )));
        }
        Err(e) => return Err(e),
    };
    Ok(probe(&fake, &client)
        .await
        .unwrap_or_else(ClientDialect::Unknown))
}

async fn probe(fake: &FakeNode, client: &Started) -> Result<ClientDialect, String> {
    let (front, via) = match (client.socks, client.http) {
        (Some(s), _) => (s, Via::Socks5),
        (None, Some(h)) => (h, Via::Http),
        _ => return Err("the client offers no front end".into()),
    };
    let without = session(fake, front, via, "probe-no-caps", None).await?;
    let with = session(fake, front, via, "probe-caps", Some(1)).await?;
    fake.release("error");
    Ok(match (without, with) {
        (true, _) => ClientDialect::Pr1115Like,
        (false, true) => ClientDialect::Pr903,
        (false, false) => ClientDialect::Legacy,
    })
}
