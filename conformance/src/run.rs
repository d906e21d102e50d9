//! Turning cases × targets into libtest-mimic trials, so the console, filters (`--list`,
//! `--skip`, `--exact`, `--include-ignored`) and parallelism behave like `cargo test`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use tokio::runtime::Handle;

use crate::case::{Case, Role};
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

/// Trials for every node case against every node target.
pub fn node_trials(
    rt: &Handle,
    cases: &[Case],
    targets: &[Arc<NodeTarget>],
    http: &Http,
    args: &Arguments,
    strict: bool,
    results: &Results,
) -> Vec<Trial> {
    let prefixed = targets.len() > 1;
    let mut trials = Vec::new();
    for target in targets {
        for case in cases.iter().filter(|c| c.file.role == Role::Node) {
            let name = trial_name(&target.label, &case.id, prefixed);
            let (rt, case, target, http, results) = (
                rt.clone(),
                case.clone(),
                Arc::clone(target),
                http.clone(),
                Arc::clone(results),
            );
            let include_ignored = args.include_ignored;
            let kind = format!("{:?}", case.file.level).to_lowercase();
            let trial_name = name.clone();
            trials.push(
                Trial::ignorable_test(name, move || {
                    let started = Instant::now();
                    let missing = target.missing(&case.file.requires);
                    let outcome = if !missing.is_empty() && !include_ignored {
                        Outcome::Ignored {
                            reason: format!("target lacks {}", missing.join(", ")),
                        }
                    } else {
                        rt.block_on(crate::node::run_case(&case, &target, &http))
                    };
                    let r = CaseResult::new(
                        &target.label,
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
                .with_kind(kind),
            );
        }
    }
    trials
}
