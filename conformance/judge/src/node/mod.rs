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

pub use dialect::{Dialect, ProbeError, detect};

use crate::case::{Case, Step};
use crate::fixtures::Fixtures;
use crate::http::{Exchange, Http, HttpError};
use crate::progress::Progress;
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
    run_case_with(case, target, http, &Progress::default()).await
}

/// A replay command for a target the runner started in-process: its port is gone once the run
/// ends, so the URL becomes a variable and the command says where to point it.
fn replayable(target: &NodeTarget, curl: String) -> String {
    if !target.in_process {
        return curl;
    }
    let mut c = curl;
    let urls = [
        (target.relay_url.as_deref(), "RELAY_URL"),
        (target.diagnostic_url.as_deref(), "DIAG_NODE_URL"),
        (Some(target.url.as_str()), "NODE_URL"),
    ];
    let mut used = Vec::new();
    for (url, var) in urls {
        let Some(url) = url else { continue };
        let quoted = format!("'{url}");
        if let Some(at) = c.find(&quoted) {
            let end = c[at + 1..].find('\'').map(|e| at + 1 + e);
            if let Some(end) = end {
                c = format!(
                    "{}\"${{{var}}}{}\"{}",
                    &c[..at],
                    &c[at + 1 + url.len()..end],
                    &c[end + 1..]
                );
                used.push(var);
            }
        }
    }
    format!(
        "({} ran in-process and its port is gone: start one yourself, e.g. `seqtun-node --listen 127.0.0.1:8080 --key {}`{}, and set {}) {c}",
        target.label,
        target.key,
        if target.diagnostic_url.is_some() {
            " (plus one with --diagnostic)"
        } else {
            ""
        },
        used.join(" / ")
    )
}

/// Runs one node case against `target`, telling `progress` which step it is in.
pub async fn run_case_with(
    case: &Case,
    target: &NodeTarget,
    http: &Http,
    progress: &Progress,
) -> Outcome {
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
    let steps = case.file.steps.len();
    for (i, step) in case.file.steps.iter().enumerate() {
        let (what, wait) = crate::console::estimate::describe(step, &target.params);
        progress.step(i + 1, steps, what, wait);
        if let Err(f) = run.step(step).await {
            let ordering = case.file.flags.iter().any(|f| f == "ordering");
            let note = (ordering && run.saw_seq_echo).then(|| {
                "the target echoed `seq` but did not order the ops: echo is not ordering (PROTOCOL.md §7.2)".to_string()
            });
            for (_, t) in run.pending.drain() {
                t.abort();
            }
            // A check on the upstream side still has a request to replay: the last one sent.
            let curl = f
                .curl
                .or_else(|| {
                    run.last
                        .as_ref()
                        .and_then(|n| run.replies.get(n))
                        .map(|ex| ex.curl())
                })
                .map(|c| replayable(target, c));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(in_process: bool) -> NodeTarget {
        NodeTarget {
            label: "seqtun-node".into(),
            url: "http://127.0.0.1:4321".into(),
            relay_url: None,
            key: "K".into(),
            diagnostic_url: None,
            features: Default::default(),
            params: Default::default(),
            fixture_ip: [127, 0, 0, 1].into(),
            in_process,
        }
    }

    /// A failure against an in-process target replays against a node the reader starts, not
    /// against a port that is gone.
    #[test]
    fn replays_of_in_process_targets_say_so() {
        let curl = "curl -sS -i -L -X POST 'http://127.0.0.1:4321/tunnel/batch' --data-binary '{}'";
        assert_eq!(replayable(&target(false), curl.into()), curl);
        let r = replayable(&target(true), curl.into());
        assert!(
            r.starts_with("(seqtun-node ran in-process and its port is gone"),
            "{r}"
        );
        assert!(
            r.contains("curl -sS -i -L -X POST \"${NODE_URL}/tunnel/batch\" --data-binary '{}'"),
            "{r}"
        );
        assert!(!r.contains("4321"), "{r}");
    }
}
