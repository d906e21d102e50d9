//! Turning cases × targets into libtest-mimic trials, so the console, filters (`--list`,
//! `--skip`, `--exact`, `--include-ignored`) and parallelism behave like `cargo test`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use tokio::runtime::Handle;

use crate::case::{Case, Role};
use crate::client::ClientTarget;
use crate::http::Http;
use crate::results::CaseResult;
use crate::target::NodeTarget;
use crate::verdict::{Grade, Outcome};

/// Collected results of all trials.
pub type Results = Arc<Mutex<Vec<CaseResult>>>;

/// The trial name: the case id, prefixed with the target when several targets run.
pub fn trial_name(target: &str, id: &str, prefixed: bool) -> String {
    if prefixed {
        format!("{target}::{id}")
    } else {
        id.to_string()
    }
}

/// Maps a graded outcome onto what libtest-mimic prints.
pub fn to_completion(r: &CaseResult) -> Result<Completion, Failed> {
    match (&r.outcome, r.grade) {
        (Outcome::Pass, _) => Ok(Completion::Completed),
        (Outcome::Ignored { reason }, _) => Ok(Completion::ignored_with(reason)),
        (Outcome::Unsupported { reason }, _) => {
            Ok(Completion::ignored_with(format!("UNSUPPORTED: {reason}")))
        }
        (Outcome::Fail(f), Grade::Failed) => {
            Err(format!("[§{} {}] {}\n{f}", r.section, r.id, r.title).into())
        }
        (Outcome::Fail(f), grade) => Ok(Completion::ignored_with(format!(
            "{} (§{}): {}",
            grade.word().to_uppercase(),
            r.section,
            f.what
        ))),
    }
}

/// What every trial of one run shares.
pub struct TrialSet<'a> {
    pub rt: &'a Handle,
    pub args: &'a Arguments,
    pub strict: bool,
    pub results: &'a Results,
    /// Several targets run: prefix trial names with the target's label.
    pub prefixed: bool,
}

impl TrialSet<'_> {
    /// One trial: ignored with the reason when the target lacks a required feature (unless
    /// `--include-ignored`), otherwise `run`; the result is recorded for the reports.
    fn trial<F>(&self, case: &Case, label: &str, missing: Vec<&str>, run: F) -> Trial
    where
        F: FnOnce(&Handle, &Case) -> Outcome + Send + 'static,
    {
        let name = trial_name(label, &case.id, self.prefixed);
        let kind = format!("{:?}", case.file.level).to_lowercase();
        let skip = (!missing.is_empty() && !self.args.include_ignored)
            .then(|| format!("target lacks {}", missing.join(", ")));
        let (rt, case, results, strict, label) = (
            self.rt.clone(),
            case.clone(),
            Arc::clone(self.results),
            self.strict,
            label.to_string(),
        );
        let trial_name = name.clone();
        Trial::ignorable_test(name, move || {
            let started = Instant::now();
            let outcome = match skip {
                Some(reason) => Outcome::Ignored { reason },
                None => run(&rt, &case),
            };
            let r = CaseResult::new(
                &label,
                trial_name,
                &case,
                outcome,
                strict,
                started.elapsed(),
            );
            let completion = to_completion(&r);
            if let Ok(mut all) = results.lock() {
                all.push(r);
            }
            completion
        })
        .with_kind(kind)
    }

    /// Trials for every node case against every node target.
    pub fn node(&self, cases: &[Case], targets: &[Arc<NodeTarget>], http: &Http) -> Vec<Trial> {
        let mut trials = Vec::new();
        for target in targets {
            for case in cases.iter().filter(|c| c.file.role == Role::Node) {
                let (t, http) = (Arc::clone(target), http.clone());
                let missing = target.missing(&case.file.requires);
                trials.push(self.trial(case, &target.label, missing, move |rt, case| {
                    rt.block_on(crate::node::run_case(case, &t, &http))
                }));
            }
        }
        trials
    }

    /// Trials for every client case against every client target.
    pub fn client(&self, cases: &[Case], targets: &[Arc<ClientTarget>]) -> Vec<Trial> {
        let mut trials = Vec::new();
        for target in targets {
            for case in cases.iter().filter(|c| c.file.role == Role::Client) {
                let t = Arc::clone(target);
                let missing = target.missing(&case.file.requires);
                trials.push(self.trial(case, &target.label, missing, move |rt, case| {
                    rt.block_on(crate::client::run_case(case, &t))
                }));
            }
        }
        trials
    }
}
