//! The fake node playing a node that takes uploads, and one with a body limit (§6.3).
//!
//! A client's upload is only right if the node sees every byte once, in order, however the
//! client cut it into ops and batches and whatever the node refused on the way; so `uploads`
//! reassembles each session's stream from the ops as they arrive (by `seq` when they carry one)
//! and compares it with what the app wrote. `body_limit` makes the fake node refuse bodies over
//! a size the way deployed nodes do (HTTP 413, nothing run), and `expect_bodies` checks the
//! sizes the client chose.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::Run;
use crate::case::{BodyLimitSpec, ExpectBodiesSpec, UploadsSpec};
use crate::matcher::Matcher;
use crate::node::StepFail;

/// How often a waiting `uploads` step also looks whether the client gave up on an app.
const APP_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// One session's stream as it arrives.
#[derive(Default)]
struct Stream {
    app: String,
    want: Vec<u8>,
    by_seq: BTreeMap<u64, Vec<u8>>,
    unseqd: Vec<u8>,
}

impl Stream {
    fn len(&self) -> usize {
        self.by_seq.values().map(Vec::len).sum::<usize>() + self.unseqd.len()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.by_seq.values().flatten().copied().collect();
        out.extend_from_slice(&self.unseqd);
        out
    }
}

impl Run<'_> {
    pub(super) fn body_limit(&mut self, s: &BodyLimitSpec) -> Result<(), StepFail> {
        let max = self.size(&s.max)?;
        self.fake
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .body_limit = Some(max);
        Ok(())
    }

    fn size(&self, expr: &str) -> Result<usize, StepFail> {
        crate::expr::eval_u64(expr, &self.target.params)
            .map(|v| v as usize)
            .map_err(|e| StepFail::new("evaluate", "a size expression", e.to_string()))
    }

    pub(super) async fn uploads(&mut self, s: &UploadsSpec) -> Result<(), StepFail> {
        let wait = self.ms(&Some(s.within.clone().unwrap_or_else(|| "30s".into())))?;
        let mut streams: HashMap<String, Stream> = HashMap::new();
        let mut writers = Vec::new();
        for u in &s.sessions {
            let sid = self
                .vars
                .substitute_text(&u.sid)
                .map_err(|e| StepFail::new("uploads", "bound names", e.to_string()))?;
            let want = self.bytes(&u.bytes)?;
            writers.push(self.app(&u.app)?.send_later(want.clone()));
            let app = u.app.clone();
            streams.insert(
                sid,
                Stream {
                    app,
                    want,
                    ..Stream::default()
                },
            );
        }
        let result = self.collect_uploads(&mut streams, wait).await;
        for w in writers {
            w.abort();
        }
        result
    }

    async fn collect_uploads(
        &mut self,
        streams: &mut HashMap<String, Stream>,
        wait: std::time::Duration,
    ) -> Result<(), StepFail> {
        let deadline = Instant::now() + wait;
        let notify = std::sync::Arc::clone(&self.fake.changed);
        loop {
            let changed = crate::wake::armed(&notify);
            self.take_uploads(streams)?;
            if let Some(f) = streams.iter().find_map(|(sid, st)| mismatch(sid, st)) {
                return Err(f);
            }
            if streams.values().all(|st| st.len() >= st.want.len()) {
                return Ok(());
            }
            if let Some(f) = self.gave_up(streams) {
                return Err(f);
            }
            let now = Instant::now();
            if now >= deadline {
                let progress: Vec<String> = streams
                    .iter()
                    .map(|(sid, st)| format!("{sid}: {} of {} bytes", st.len(), st.want.len()))
                    .collect();
                return Err(StepFail::new(
                    "uploads",
                    format!("every session's bytes within {wait:?}"),
                    progress.join(", "),
                ));
            }
            let _ = tokio::time::timeout_at(deadline.min(now + APP_CHECK), changed).await;
        }
    }

    /// An app whose connection the client closed before its upload arrived: it will not.
    fn gave_up(&self, streams: &HashMap<String, Stream>) -> Option<StepFail> {
        streams.iter().find_map(|(sid, st)| {
            let closed = self
                .apps
                .get(&st.app)
                .is_some_and(|a| a.received.lock().is_ok_and(|r| r.closed));
            (closed && st.len() < st.want.len()).then(|| {
                StepFail::new(
                    "uploads",
                    format!("app {}'s {} bytes on session {sid}", st.app, st.want.len()),
                    format!(
                        "the client closed the app's connection after {} bytes arrived",
                        st.len()
                    ),
                )
            })
        })
    }

    /// Claims and answers every new `data` op of the tracked sessions.
    fn take_uploads(&mut self, streams: &mut HashMap<String, Stream>) -> Result<(), StepFail> {
        let fresh: Vec<(usize, Value)> = {
            let mut inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
            let mut fresh = Vec::new();
            for (i, rec) in inner.ops.iter_mut().enumerate() {
                let sid = rec
                    .op
                    .get("sid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if rec.claimed.is_none()
                    && rec.op.get("op") == Some(&json!("data"))
                    && streams.contains_key(sid)
                {
                    rec.claimed = Some(format!("_upload{i}"));
                    fresh.push((i, rec.op.clone()));
                }
            }
            fresh
        };
        for (i, op) in fresh {
            let sid = op["sid"].as_str().unwrap_or_default().to_string();
            let bytes = match op.get("d").and_then(Value::as_str) {
                None | Some("") => Vec::new(),
                Some(d) => STANDARD.decode(d).map_err(|e| {
                    StepFail::new("uploads", "standard padded base64 in d", e.to_string())
                })?,
            };
            let mut reply = json!({"sid": sid, "eof": false});
            let st = streams.entry(sid.clone()).or_default();
            match op.get("seq").and_then(Value::as_u64) {
                Some(seq) => {
                    reply["seq"] = json!(seq);
                    if st.by_seq.insert(seq, bytes).is_some() {
                        return Err(StepFail::new(
                            "uploads",
                            format!("each seq of session {sid} once"),
                            format!("seq {seq} arrived twice (a retried write duplicates bytes)"),
                        ));
                    }
                }
                None => st.unseqd.extend(bytes),
            }
            self.fake.reply(i, reply);
        }
        Ok(())
    }

    pub(super) fn expect_bodies(&mut self, s: &ExpectBodiesSpec) -> Result<(), StepFail> {
        let (bodies, refused) = {
            let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
            (inner.bodies.clone(), inner.refused)
        };
        if let Some(max) = &s.max {
            let max = self.size(max)?;
            if let Some((i, len)) = bodies.iter().enumerate().find(|(_, l)| **l > max) {
                return Err(StepFail::new(
                    "request body sizes",
                    format!("every request body at most {max} bytes"),
                    format!(
                        "request #{i} had {len} bytes (largest {:?})",
                        bodies.iter().max()
                    ),
                ));
            }
        }
        if let Some(m) = &s.refused {
            let params = self.target.params.clone();
            Matcher {
                params: &params,
                vars: &mut self.vars,
            }
            .check(m, Some(&json!(refused)), "refused")
            .map_err(|f| {
                StepFail::new(
                    "requests refused by body_limit",
                    format!("{} at {}", f.expected, f.path),
                    format!("{refused} of {} requests", bodies.len()),
                )
            })?;
        }
        Ok(())
    }
}

/// The first wrong byte of a session that has all its bytes, as a failure.
fn mismatch(sid: &str, st: &Stream) -> Option<StepFail> {
    if st.len() < st.want.len() {
        return None;
    }
    let got = st.bytes();
    let at = got
        .iter()
        .zip(&st.want)
        .position(|(a, b)| a != b)
        .unwrap_or(st.want.len().min(got.len()));
    (got != st.want).then(|| {
        StepFail::new(
            "uploads",
            format!("session {sid}'s {} bytes exactly", st.want.len()),
            format!(
                "{} bytes, differing from offset {at} (lost, duplicated or reordered bytes)",
                got.len()
            ),
        )
    })
}
