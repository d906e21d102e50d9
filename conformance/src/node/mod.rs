//! Running a node-role case: the runner plays the client (and, with `--relay-url`, talks the
//! relay's outer dialect), hosts the upstream fixtures, and checks every reply and every byte
//! the upstream sees.

mod checks;
mod dialect;
pub mod longpoll;
mod requests;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use dialect::{Dialect, detect};

use crate::case::{Case, Step};
use crate::fixtures::Fixtures;
use crate::http::{Exchange, Http, HttpError};
use crate::target::NodeTarget;
use crate::vars::Vars;
use crate::verdict::{Failure, Outcome};

/// State of one running case.
pub(crate) struct Run<'a> {
    pub target: &'a NodeTarget,
    pub http: &'a Http,
    /// Base URL of the node for this case (the diagnostic instance for diagnostic cases).
    pub base: String,
    pub vars: Vars,
    pub fixtures: Fixtures,
    pub replies: HashMap<String, Exchange>,
    pub pending: HashMap<String, JoinHandle<Result<Exchange, HttpError>>>,
    pub last: Option<String>,
    /// Any reply so far carried a `seq` (for the "echo is not ordering" note).
    pub saw_seq_echo: bool,
    anon: usize,
}

/// A step failed; the step number is filled in by the caller.
pub struct StepFail {
    pub what: String,
    pub expected: String,
    pub seen: String,
    pub curl: Option<String>,
}

impl StepFail {
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        seen: impl Into<String>,
    ) -> Self {
        Self {
            what: what.into(),
            expected: expected.into(),
            seen: seen.into(),
            curl: None,
        }
    }

    pub fn with_curl(mut self, ex: &Exchange) -> Self {
        self.curl = Some(ex.curl());
        self
    }
}

/// Runs one node case against `target`.
pub async fn run_case(case: &Case, target: &NodeTarget, http: &Http) -> Outcome {
    let needs_diag = case
        .file
        .requires
        .iter()
        .any(|f| f == crate::target::features::DIAGNOSTIC);
    let base = match (&target.diagnostic_url, needs_diag) {
        (Some(diag), true) => diag.clone(),
        _ => target.url.clone(),
    };
    let mut vars = Vars::default();
    vars.set("key", Value::String(target.key.clone()));
    let mut run = Run {
        target,
        http,
        base,
        vars,
        fixtures: Fixtures::default(),
        replies: HashMap::new(),
        pending: HashMap::new(),
        last: None,
        saw_seq_echo: false,
        anon: 0,
    };
    for (i, step) in case.file.steps.iter().enumerate() {
        if let Err(f) = run.step(step).await {
            let ordering = case.file.flags.iter().any(|f| f == "ordering");
            let note = (ordering && run.saw_seq_echo).then(|| {
                "the target echoed `seq` but did not order the ops: echo is not ordering (PROTOCOL.md §7.2)".to_string()
            });
            for (_, t) in run.pending.drain() {
                t.abort();
            }
            // A check on the upstream side still has a request to replay: the last one sent.
            let curl = f.curl.or_else(|| {
                run.last
                    .as_ref()
                    .and_then(|n| run.replies.get(n))
                    .map(|ex| ex.curl())
            });
            return Outcome::Fail(Failure {
                step: i + 1,
                what: f.what,
                expected: f.expected,
                seen: f.seen,
                curl,
                note,
            });
        }
    }
    // Let background requests finish so they do not bleed into the next case.
    for (_, t) in run.pending.drain() {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Outcome::Pass
}

impl Run<'_> {
    fn name_for(&mut self, name: &Option<String>) -> String {
        name.clone().unwrap_or_else(|| {
            self.anon += 1;
            format!("_{}", self.anon)
        })
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepFail> {
        match step {
            Step::Upstream(spec) => {
                let params = self.target.params.clone();
                self.fixtures
                    .start(spec, self.target.fixture_ip, &params, &mut self.vars)
                    .await
                    .map_err(|e| StepFail::new("start fixture", "a fixture", e.to_string()))
            }
            Step::Send(spec) => self.send(spec).await,
            Step::Single(spec) => self.single(spec).await,
            Step::Get(spec) => self.get(spec).await,
            Step::Await(name) => self.await_reply(name).await,
            Step::Expect(spec) => self.expect(spec).await,
            Step::Collect(spec) => self.collect(spec).await,
            Step::ExpectUpstream(spec) => self.expect_upstream(spec).await,
            Step::UpstreamSend(spec) => self.upstream_send(spec).await,
            Step::UpstreamClose(spec) => {
                let f = self
                    .fixtures
                    .tcp(&spec.name)
                    .map_err(|e| StepFail::new("close upstream", "a TCP fixture", e.to_string()))?;
                f.close_latest()
                    .await
                    .map_err(|e| StepFail::new("close upstream", "an accepted connection", e))
            }
            Step::UdpSend(spec) => self.udp_send(spec).await,
            Step::Sleep(expr) => {
                let ms = self.ms(expr)?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            other => Err(StepFail::new(
                "step",
                "a node-role step",
                format!("{other:?} is a client-role step"),
            )),
        }
    }

    pub(crate) fn ms(&self, expr: &str) -> Result<u64, StepFail> {
        crate::expr::eval_u64(expr, &self.target.params)
            .map_err(|e| StepFail::new("evaluate", "a valid expression", e.to_string()))
    }
}
