//! Client-role steps: the app's actions and checks, and the fake node's.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Run;
use super::app::{App, Handshake};
use crate::case::{Step, Via};
use crate::matcher::Matcher;
use crate::matcher::bytes::{check as check_bytes, counted, produce};
use crate::node::StepFail;

/// Default wait for something the client should do on its own.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

impl Run<'_> {
    pub(super) fn ms(&self, expr: &Option<String>) -> Result<Duration, StepFail> {
        match expr {
            None => Ok(DEFAULT_WAIT),
            Some(e) => crate::expr::eval_u64(e, &self.target.params)
                .map(Duration::from_millis)
                .map_err(|err| StepFail::new("evaluate", "a valid expression", err.to_string())),
        }
    }

    pub(super) fn app(&self, name: &str) -> Result<&App, StepFail> {
        self.apps.get(name).ok_or_else(|| {
            StepFail::new(
                format!("app `{name}`"),
                "an app opened earlier with app_open",
                "none",
            )
        })
    }

    pub(super) fn bytes(&self, spec: &Value) -> Result<Vec<u8>, StepFail> {
        produce(spec, &self.target.params)
            .map_err(|e| StepFail::new("byte spec", "a valid byte spec", e.to_string()))
    }

    pub(crate) async fn step(&mut self, step: &Step) -> Result<(), StepFail> {
        match step {
            Step::AppOpen(s) => {
                let front = match s.via {
                    Via::Socks5 => self.client.socks,
                    Via::Http => self.client.http,
                }
                .ok_or_else(|| {
                    StepFail::new(
                        "app_open",
                        format!("a {:?} listener", s.via),
                        "the client offers none",
                    )
                })?;
                let host = self
                    .vars
                    .substitute_text(&s.host)
                    .map_err(|e| StepFail::new("app_open", "bound names", e.to_string()))?;
                let auth = s.user.clone().zip(s.pass.clone());
                let early = match &s.early {
                    Some(b) => self.bytes(b)?,
                    None => Vec::new(),
                };
                let app = App::open(front, s.via, host, s.port, auth, early);
                self.apps.insert(s.name.clone(), app);
                Ok(())
            }
            Step::AppOpened(s) => {
                let wait = self.ms(&s.within)?;
                let app = self.app(&s.name)?;
                let mut rx = app.handshake.clone();
                let got =
                    tokio::time::timeout(wait, rx.wait_for(|h| *h != Handshake::Pending)).await;
                let hs = match got {
                    Ok(Ok(h)) => h.clone(),
                    _ => {
                        return Err(StepFail::new(
                            "front-end answer",
                            format!("an answer within {wait:?}"),
                            "none",
                        ));
                    }
                };
                if let Some(code) = s.socks_reply
                    && hs != Handshake::Socks(code)
                {
                    return Err(StepFail::new(
                        "SOCKS5 reply",
                        format!("reply code {code:#04x}"),
                        format!("{hs:?}"),
                    ));
                }
                if let Some(code) = s.http_status
                    && hs != Handshake::Http(code)
                {
                    return Err(StepFail::new(
                        "CONNECT answer",
                        format!("HTTP {code}"),
                        format!("{hs:?}"),
                    ));
                }
                let want_ok = s.ok.unwrap_or(
                    s.socks_reply.is_none_or(|c| c == 0)
                        && s.http_status.is_none_or(|c| (200..300).contains(&c)),
                );
                if hs.granted() != want_ok {
                    return Err(StepFail::new(
                        "front-end answer",
                        if want_ok {
                            "the connection granted"
                        } else {
                            "the connection refused"
                        },
                        format!("{hs:?}"),
                    ));
                }
                Ok(())
            }
            Step::AppSend(s) => {
                let bytes = self.bytes(&s.bytes)?;
                self.app(&s.name)?
                    .send(&bytes)
                    .await
                    .map_err(|e| StepFail::new("app_send", "a connected app", e))
            }
            Step::AppExpect(s) => self.app_expect(s).await,
            Step::AppHalfClose(s) => self
                .app(&s.name)?
                .half_close()
                .await
                .map_err(|e| StepFail::new("app_half_close", "a connected app", e)),
            Step::AppClose(s) => {
                self.app(&s.name)?.close().await;
                Ok(())
            }
            Step::AppExpectClosed(s) => {
                let wait = self.ms(&s.within)?;
                let app = self.app(&s.name)?;
                let deadline = Instant::now() + wait;
                loop {
                    let changed = crate::wake::armed(&app.changed);
                    let (bytes, closed) = app.snapshot();
                    if closed {
                        return Ok(());
                    }
                    if Instant::now() >= deadline
                        || tokio::time::timeout_at(deadline, changed).await.is_err()
                    {
                        if app.snapshot().1 {
                            return Ok(());
                        }
                        return Err(StepFail::new(
                            "app connection",
                            format!("closed by the client within {wait:?}"),
                            format!("still open after receiving {}", counted(&bytes)),
                        ));
                    }
                }
            }
            Step::ExpectOp(s) => self.expect_op(s).await,
            Step::ExpectNoOp(s) => {
                let during = self.ms(&Some(s.during.clone()))?;
                tokio::time::sleep(during).await;
                if let Some((i, op)) = self.find_unclaimed(&s.op) {
                    return Err(StepFail::new(
                        "ops sent",
                        format!("no op matching {} during {}", s.op, s.during),
                        format!("op #{i}: {}", clip(&op)),
                    ));
                }
                Ok(())
            }
            Step::Reply(s) => {
                let idx = self.claimed(&s.to)?;
                let mut reply = self
                    .vars
                    .substitute(&s.reply)
                    .map_err(|e| StepFail::new("reply", "bound names", e.to_string()))?;
                if s.echo_seq {
                    let seq = self.vars.get(&format!("{}.seq", s.to)).cloned();
                    if let (Some(seq), Some(obj)) = (seq, reply.as_object_mut()) {
                        obj.entry("seq").or_insert(seq);
                    }
                }
                if let Some(extra) = &s.extra {
                    let entry = self
                        .vars
                        .substitute(&extra.entry)
                        .map_err(|e| StepFail::new("reply extra", "bound names", e.to_string()))?;
                    self.fake.extra(idx, extra.at, entry);
                }
                self.fake.reply(idx, reply);
                Ok(())
            }
            Step::Respond(s) => {
                let idx = self.claimed(&s.to)?;
                let batch = self
                    .fake
                    .state
                    .lock()
                    .map(|i| i.ops[idx].batch)
                    .unwrap_or(0);
                let r = match &s.r {
                    Some(r) => Some(
                        r.iter()
                            .map(|v| self.vars.substitute(v))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| StepFail::new("respond", "bound names", e.to_string()))?,
                    ),
                    None => None,
                };
                self.fake.respond(batch, s, r);
                Ok(())
            }
            Step::ExpectBatch(s) => {
                let idx = self.claimed(&s.of)?;
                let envelope = {
                    let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
                    inner.batches[inner.ops[idx].batch].envelope.clone()
                };
                let params = self.target.params.clone();
                Matcher {
                    params: &params,
                    vars: &mut self.vars,
                }
                .check(&s.json, Some(&envelope), "")
                .map_err(|m| {
                    StepFail::new(
                        "batch envelope",
                        format!("{} at {}", m.expected, m.path),
                        m.seen,
                    )
                })
            }
            Step::Release(s) => {
                self.fake.release(&s.how);
                Ok(())
            }
            Step::BodyLimit(s) => self.body_limit(s),
            Step::Uploads(s) => self.uploads(s).await,
            Step::ExpectBodies(s) => self.expect_bodies(s),
            Step::Sleep(e) => {
                tokio::time::sleep(self.ms(&Some(e.clone()))?).await;
                Ok(())
            }
            other => Err(StepFail::new(
                "step",
                "a client-role step",
                format!("{other:?} is a node-role step"),
            )),
        }
    }

    async fn app_expect(&mut self, s: &crate::case::AppExpect) -> Result<(), StepFail> {
        let wait = self.ms(&s.within)?;
        let want = self.bytes(&s.bytes).ok();
        let params = self.target.params.clone();
        let app = self.app(&s.name)?;
        let deadline = Instant::now() + wait;
        let result = loop {
            let changed = crate::wake::armed(&app.changed);
            let (bytes, closed) = app.snapshot();
            let enough = want.as_ref().is_none_or(|w| bytes.len() >= w.len());
            if enough || closed || Instant::now() >= deadline {
                break check_bytes(&s.bytes, &bytes, &params);
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        };
        result.map_err(|e| {
            StepFail::new(
                format!("bytes delivered to app `{}`", s.name),
                e.expected,
                e.seen,
            )
        })?;
        if let Some(t) = &s.stays {
            tokio::time::sleep(self.ms(&Some(t.clone()))?).await;
            let (bytes, _) = self.app(&s.name)?.snapshot();
            check_bytes(&s.bytes, &bytes, &params).map_err(|e| {
                StepFail::new(
                    format!("bytes delivered to app `{}` ({t} later)", s.name),
                    e.expected,
                    e.seen,
                )
            })?;
        }
        Ok(())
    }

    async fn expect_op(&mut self, s: &crate::case::ExpectOp) -> Result<(), StepFail> {
        let wait = self.ms(&s.within)?;
        let deadline = Instant::now() + wait;
        let notify = std::sync::Arc::clone(&self.fake.changed);
        loop {
            let changed = crate::wake::armed(&notify);
            if self.try_claim(&s.op, s.name.as_deref()).is_some() {
                return Ok(());
            }
            if let Some(auto) = &s.answering {
                self.auto_answer(auto)?;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(StepFail::new(
                    "ops sent",
                    format!("an op matching {} within {wait:?}", s.op),
                    "none (see the note for everything the client sent)",
                ));
            }
        }
    }

    /// Answers every unclaimed, unanswered op matching `auto.op` (they stay claimable).
    fn auto_answer(&mut self, auto: &crate::case::AutoAnswer) -> Result<(), StepFail> {
        let params = self.target.params.clone();
        let pending: Vec<(usize, Value)> = {
            let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
            inner
                .ops
                .iter()
                .enumerate()
                .filter(|(_, o)| o.claimed.is_none() && o.reply.is_none())
                .map(|(i, o)| (i, o.op.clone()))
                .collect()
        };
        for (i, op) in pending {
            let mut vars = self.vars.clone();
            if (Matcher {
                params: &params,
                vars: &mut vars,
            })
            .check(&auto.op, Some(&op), "op")
            .is_err()
            {
                continue;
            }
            if let Some(obj) = op.as_object() {
                for (k, v) in obj {
                    vars.set(format!("op.{k}"), v.clone());
                }
            }
            let mut reply = vars
                .substitute(&auto.reply)
                .map_err(|e| StepFail::new("answering", "bound names", e.to_string()))?;
            if let (Some(seq), Some(obj)) = (op.get("seq"), reply.as_object_mut()) {
                obj.entry("seq").or_insert_with(|| seq.clone());
            }
            if let Ok(mut inner) = self.fake.state.lock() {
                inner.ops[i].claimed = Some(format!("_answered{i}"));
            }
            self.fake.reply(i, reply);
        }
        Ok(())
    }

    /// Claims the oldest unclaimed op matching `m`, binding its fields under `name`.
    fn try_claim(&mut self, m: &Value, name: Option<&str>) -> Option<usize> {
        let params = self.target.params.clone();
        let candidates: Vec<(usize, Value)> = {
            let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
            inner
                .ops
                .iter()
                .enumerate()
                .filter(|(_, o)| o.claimed.is_none())
                .map(|(i, o)| (i, o.op.clone()))
                .collect()
        };
        for (i, op) in candidates {
            let mut vars = self.vars.clone();
            if (Matcher {
                params: &params,
                vars: &mut vars,
            })
            .check(m, Some(&op), "op")
            .is_ok()
            {
                self.vars = vars;
                let alias = name
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("_op{i}"));
                if let Some(obj) = op.as_object() {
                    for (k, v) in obj {
                        self.vars.set(format!("{alias}.{k}"), v.clone());
                    }
                }
                self.vars.set(format!("{alias}.index"), json!(i));
                if let Ok(mut inner) = self.fake.state.lock() {
                    inner.ops[i].claimed = Some(alias);
                }
                return Some(i);
            }
        }
        None
    }

    fn find_unclaimed(&self, m: &Value) -> Option<(usize, Value)> {
        let params = self.target.params.clone();
        let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .ops
            .iter()
            .enumerate()
            .filter(|(_, o)| o.claimed.is_none())
            .find_map(|(i, o)| {
                let mut vars = self.vars.clone();
                (Matcher {
                    params: &params,
                    vars: &mut vars,
                })
                .check(m, Some(&o.op), "op")
                .is_ok()
                .then(|| (i, o.op.clone()))
            })
    }

    /// The index of an op claimed as `alias`.
    fn claimed(&self, alias: &str) -> Result<usize, StepFail> {
        let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .ops
            .iter()
            .position(|o| o.claimed.as_deref() == Some(alias))
            .ok_or_else(|| {
                StepFail::new(
                    format!("op `{alias}`"),
                    "an op claimed earlier with expect_op",
                    "none",
                )
            })
    }
}

/// An op shortened for reports (payloads can be megabytes).
pub(crate) fn clip(v: &Value) -> String {
    crate::matcher::shorten(&v.to_string(), 240)
}
