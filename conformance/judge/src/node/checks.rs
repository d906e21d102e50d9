//! Checking replies, downlink streams and what the upstream fixtures saw.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Run, StepFail};
use crate::case::{CollectSpec, ExpectSpec, UpstreamExpect};
use crate::matcher::Matcher;
use crate::matcher::bytes::{body_text, check as check_bytes, produce};

/// How long an upstream expectation may take to come true unless the case says otherwise.
const DEFAULT_UPSTREAM_WAIT: Duration = Duration::from_secs(5);
/// Most polls a `collect` step sends unless the case says otherwise.
const DEFAULT_MAX_POLLS: u32 = 64;

impl Run<'_> {
    pub(crate) async fn expect(&mut self, spec: &ExpectSpec) -> Result<(), StepFail> {
        let name = match &spec.of {
            Some(n) => n.clone(),
            None => self
                .last
                .clone()
                .ok_or_else(|| StepFail::new("expect", "an earlier request", "none sent yet"))?,
        };
        if self.pending.contains_key(&name) {
            self.await_reply(&name).await?;
        }
        let ex =
            self.replies.get(&name).cloned().ok_or_else(|| {
                StepFail::new(format!("expect `{name}`"), "a reply", "no such reply")
            })?;
        let fail = |what: &str, expected: String, seen: String| {
            StepFail::new(what, expected, seen).with_curl(&ex)
        };
        if let Some(s) = spec.status
            && ex.status != s
        {
            return Err(fail(
                "HTTP status",
                s.to_string(),
                format!("{} with {}", ex.status, body_text(&ex.body)),
            ));
        }
        if let Some(ct) = &spec.content_type
            && !ex.content_type.starts_with(ct.as_str())
        {
            return Err(fail(
                "Content-Type",
                format!("{ct}…"),
                format!("{:?}", ex.content_type),
            ));
        }
        let text = String::from_utf8_lossy(&ex.body).to_string();
        for needle in &spec.body_contains {
            if !text.contains(needle.as_str()) {
                return Err(fail(
                    "body",
                    format!("a body containing {needle:?}"),
                    body_text(&ex.body),
                ));
            }
        }
        if let Some(t) = &spec.within {
            let limit = Duration::from_millis(self.ms(t)?);
            if ex.elapsed > limit {
                return Err(fail(
                    "reply time",
                    format!("within {t} ({limit:?})"),
                    format!("{:?}", ex.elapsed),
                ));
            }
        }
        if let Some(t) = &spec.not_before {
            let floor = Duration::from_millis(self.ms(t)?);
            if ex.elapsed < floor {
                return Err(fail(
                    "reply time",
                    format!("not before {t} ({floor:?})"),
                    format!("{:?}", ex.elapsed),
                ));
            }
        }
        if spec.json.is_none() && spec.r.is_none() {
            return Ok(());
        }
        let Some(body) = ex.json() else {
            return Err(fail("body", "JSON".into(), body_text(&ex.body)));
        };
        let params = self.target.params.clone();
        let mut m = Matcher {
            params: &params,
            vars: &mut self.vars,
        };
        if let Some(want) = &spec.json {
            m.check(want, Some(&body), "")
                .map_err(|e| fail("reply", format!("{} at {}", e.expected, e.path), e.seen))?;
        }
        if let Some(rs) = &spec.r {
            let want = Value::Array(rs.clone());
            let got = body.get("r");
            m.check(&want, got, "r").map_err(|e| {
                let what = if e.path == "r" {
                    "len(r) == len(ops)"
                } else {
                    "reply"
                };
                fail(what, format!("{} at {}", e.expected, e.path), e.seen)
            })?;
        }
        Ok(())
    }

    pub(crate) async fn collect(&mut self, spec: &CollectSpec) -> Result<(), StepFail> {
        let sid = self
            .vars
            .substitute_text(&spec.sid)
            .map_err(|e| StepFail::new("collect", "a bound sid", e.to_string()))?;
        let want_len = produce(&spec.bytes, &self.target.params)
            .map(|b| b.len())
            .ok()
            .or_else(|| {
                spec.bytes.get("len").and_then(|l| match l {
                    Value::String(s) => crate::expr::eval_u64(s, &self.target.params)
                        .ok()
                        .map(|v| v as usize),
                    other => other.as_u64().map(|v| v as usize),
                })
            });
        let mut got = Vec::new();
        let mut seq = spec.seq_from;
        let mut saw_eof = false;
        let mut last_ex = None;
        for _ in 0..spec.max_polls.unwrap_or(DEFAULT_MAX_POLLS) {
            let mut op = json!({"op":"data","sid":sid});
            if let Some(s) = seq {
                op["seq"] = json!(s);
            }
            let mut env = json!({"k": self.target.key, "ops": [op]});
            let url = match &self.target.relay_url {
                Some(r) => {
                    env["t"] = json!("batch");
                    r.clone()
                }
                None => format!("{}/tunnel/batch", self.base),
            };
            let ex = self
                .http
                .post(&url, env.to_string().into_bytes())
                .await
                .map_err(|e| StepFail::new("collect poll", "a reply", e.to_string()))?;
            let reply = ex
                .json()
                .and_then(|v| v.get("r").and_then(|r| r.get(0)).cloned());
            let Some(reply) = reply else {
                return Err(
                    StepFail::new("collect poll", "{\"r\":[reply]}", body_text(&ex.body))
                        .with_curl(&ex),
                );
            };
            if let Some(e) = reply.get("e") {
                return Err(
                    StepFail::new("collect poll", "a data reply", format!("error {e}"))
                        .with_curl(&ex),
                );
            }
            if let Some(s) = seq {
                if reply.get("seq") != Some(&json!(s)) {
                    return Err(StepFail::new(
                        "collect poll",
                        format!("seq {s} echoed"),
                        reply.to_string(),
                    )
                    .with_curl(&ex));
                }
                seq = Some(s + 1);
            }
            if let Some(d) = reply.get("d").and_then(Value::as_str) {
                got.extend(STANDARD.decode(d).map_err(|e| {
                    StepFail::new("collect poll", "standard base64 in d", e.to_string())
                        .with_curl(&ex)
                })?);
            }
            saw_eof = reply.get("eof") == Some(&json!(true));
            last_ex = Some(ex);
            let enough = !spec.until_eof && want_len.is_some_and(|n| got.len() >= n);
            if saw_eof || enough {
                break;
            }
        }
        if let Some(s) = seq {
            self.vars.set("collect.next_seq", json!(s));
        }
        let with_curl = |f: StepFail| match &last_ex {
            Some(ex) => f.with_curl(ex),
            None => f,
        };
        if spec.until_eof && !saw_eof {
            return Err(with_curl(StepFail::new(
                "collect",
                "eof:true after the stream",
                format!("no eof after {} bytes", got.len()),
            )));
        }
        check_bytes(&spec.bytes, &got, &self.target.params).map_err(|e| {
            with_curl(StepFail::new(
                "downlink stream (d of every reply, concatenated)",
                e.expected,
                e.seen,
            ))
        })
    }

    pub(crate) async fn expect_upstream(&mut self, spec: &UpstreamExpect) -> Result<(), StepFail> {
        let wait = match &spec.within {
            Some(t) => Duration::from_millis(self.ms(t)?),
            None => DEFAULT_UPSTREAM_WAIT,
        };
        let params = self.target.params.clone();
        let f = self
            .fixtures
            .tcp(&spec.name)
            .map_err(|e| StepFail::new("expect_upstream", "a TCP fixture", e.to_string()))?;
        let check = || -> Result<(), StepFail> {
            let (bytes, closed) = f.snapshot();
            if let Some(n) = spec.accepted
                && f.accepted() != n as usize
            {
                return Err(StepFail::new(
                    "upstream connections",
                    format!("{n} accepted"),
                    format!("{} accepted", f.accepted()),
                ));
            }
            if let Some(b) = &spec.bytes {
                check_bytes(b, &bytes, &params).map_err(|e| {
                    StepFail::new(
                        format!("bytes received by upstream `{}`", spec.name),
                        e.expected,
                        e.seen,
                    )
                })?;
            }
            if let Some(c) = spec.closed
                && closed != c
            {
                return Err(StepFail::new(
                    format!("upstream `{}` closed", spec.name),
                    c.to_string(),
                    closed.to_string(),
                ));
            }
            Ok(())
        };
        let deadline = Instant::now() + wait;
        loop {
            let changed = crate::wake::armed(&f.shared.changed);
            match check() {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => {
                    let _ = tokio::time::timeout_at(deadline, changed).await;
                }
            }
        }
        if let Some(t) = &spec.stays {
            tokio::time::sleep(Duration::from_millis(self.ms(t)?)).await;
            check().map_err(|mut e| {
                e.what = format!("{} (still true {t} later)", e.what);
                e
            })?;
        }
        Ok(())
    }
}
