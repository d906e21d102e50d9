//! Running a client-role case: the runner plays the app (SOCKS5 / HTTP CONNECT), and the relay
//! or node the client sends batches to. It checks the ops the client sends and the bytes it
//! delivers to the app.

pub mod app;
mod dialect;
pub mod fake;
pub mod group;
pub mod launch;
mod steps;
mod uploads;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

pub use dialect::{ClientDialect, detect};

use crate::case::Case;
use crate::expr::Params;
use crate::progress::Progress;
use crate::vars::Vars;
use crate::verdict::{Failure, Outcome};
use app::App;
use fake::FakeNode;
use launch::{LaunchError, Launcher, Started};

/// A client under test.
#[derive(Clone)]
pub struct ClientTarget {
    pub label: String,
    pub launcher: Launcher,
    pub key: String,
    /// Point the client at an Apps Script style URL (outer dialect) instead of a node URL.
    pub outer: bool,
    pub features: BTreeSet<String>,
    pub params: Params,
}

impl ClientTarget {
    pub fn missing<'a>(&self, requires: &'a [String]) -> Vec<&'a str> {
        requires
            .iter()
            .filter(|f| !self.features.contains(f.as_str()))
            .map(String::as_str)
            .collect()
    }

    /// The URL the client is told to use for a fake node.
    pub fn url_for(&self, fake: &FakeNode) -> String {
        if self.outer {
            fake.relay_url()
        } else {
            fake.node_url()
        }
    }
}

pub(crate) struct Run<'a> {
    pub target: &'a ClientTarget,
    pub fake: FakeNode,
    pub client: Started,
    pub apps: HashMap<String, App>,
    pub vars: Vars,
}

/// Runs one client case against `target`.
pub async fn run_case(case: &Case, target: &ClientTarget) -> Outcome {
    run_case_with(case, target, &Progress::default()).await
}

/// Runs one client case against `target`, telling `progress` which step it is in.
pub async fn run_case_with(case: &Case, target: &ClientTarget, progress: &Progress) -> Outcome {
    let fake = match FakeNode::start().await {
        Ok(f) => f,
        Err(e) => {
            return fail(
                0,
                "start the fake node",
                "a loopback listener",
                e.to_string(),
            );
        }
    };
    let client = match target
        .launcher
        .start(&target.url_for(&fake), &target.key)
        .await
    {
        Ok(c) => c,
        Err(LaunchError::Unsupported(why)) => return Outcome::Unsupported { reason: why },
        Err(e) => return fail(0, "start the client", "a running client", e.to_string()),
    };
    let mut vars = Vars::default();
    vars.set("key", Value::String(target.key.clone()));
    let mut run = Run {
        target,
        fake,
        client,
        apps: HashMap::new(),
        vars,
    };
    let mut outcome = Outcome::Pass;
    let steps = case.file.steps.len();
    for (i, step) in case.file.steps.iter().enumerate() {
        let (what, wait) = crate::console::estimate::describe(step, &target.params);
        progress.step(i + 1, steps, what, wait);
        if let Err(f) = run.step(step).await {
            outcome = if run.client.said_unsupported() {
                Outcome::Unsupported {
                    reason: "the client exited with code 89 during the case".into(),
                }
            } else {
                let mut failure = Failure {
                    step: i + 1,
                    what: f.what,
                    expected: f.expected,
                    seen: f.seen,
                    curl: None,
                    note: None,
                };
                failure.note = Some(run.ops_summary());
                failure.curl = run.replay_last_batch();
                Outcome::Fail(failure)
            };
            break;
        }
    }
    run.fake.release("error");
    outcome
}

fn fail(step: usize, what: &str, expected: &str, seen: String) -> Outcome {
    Outcome::Fail(Failure {
        step,
        what: what.into(),
        expected: expected.into(),
        seen,
        curl: None,
        note: None,
    })
}

impl Run<'_> {
    /// A command that sends the client's last batch to a node (or relay) of the reader's choice,
    /// so what the client sent can be tried against a real peer.
    fn replay_last_batch(&self) -> Option<String> {
        let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
        let last = inner.batches.last()?;
        let body = serde_json::to_string(&last.envelope).ok()?;
        let url = match (self.target.outer, last.single) {
            (true, _) => "${RELAY_URL}",
            (false, true) => "${NODE_URL}/tunnel",
            (false, false) => "${NODE_URL}/tunnel/batch",
        };
        Some(format!(
            "curl -sS -i -L -X POST \"{url}\" -H 'content-type: application/json' --data-binary '{}'",
            body.replace('\'', "'\\''")
        ))
    }

    /// The ops the client sent so far, for failure reports.
    fn ops_summary(&self) -> String {
        let inner = self.fake.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = format!("the client sent {} batch(es):", inner.batches.len());
        for (b, batch) in inner.batches.iter().enumerate().take(12) {
            let ops: Vec<String> = batch
                .ops
                .iter()
                .map(|&i| steps::clip(&inner.ops[i].op))
                .collect();
            let env = batch
                .envelope
                .get("t")
                .map(|t| format!(" t={t}"))
                .unwrap_or_default();
            out.push_str(&format!(" #{b}{env} [{}]", ops.join(", ")));
        }
        if !inner.junk.is_empty() {
            out.push_str(&format!(
                "; unparseable requests: {}",
                inner.junk.join(" | ")
            ));
        }
        out
    }
}
