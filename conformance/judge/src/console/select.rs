//! Which cases run: libtest's filters (`FILTER`, `--exact`, `--skip`, `--ignored`,
//! `--include-ignored`) over the trials of every target, decided before anything runs.
//!
//! Two things differ from libtest on purpose. `--exact` accepts a case id as reports print it
//! (`node/transport/health`) as well as the full trial name (`TARGET::node/transport/health`),
//! so the id a report shows can be pasted back whatever the number of targets. And a selection
//! of nothing is an error with a hint, not a green run that tested nothing.

use std::time::Duration;

use crate::case::Level;
use crate::cli::TestArgs;

/// Why a trial will not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The target lacks features the case requires (`--include-ignored` runs it anyway).
    Missing(Vec<String>),
    /// `--quick`, with the reason.
    Quick(String),
}

impl Skip {
    pub fn reason(&self) -> String {
        match self {
            Skip::Missing(f) => format!("target lacks {}", f.join(", ")),
            Skip::Quick(why) => why.clone(),
        }
    }
}

/// Which target a trial runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRef {
    Node(usize),
    Client(usize),
}

/// One case against one target, before it runs.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The trial name: the case id, prefixed `TARGET::` when several targets run.
    pub name: String,
    pub id: String,
    pub target_label: String,
    pub target: TargetRef,
    /// Index into the loaded cases.
    pub case: usize,
    pub level: Level,
    pub title: String,
    pub skip: Option<Skip>,
    /// The least time it takes (the waits its vector prescribes).
    pub estimate: Duration,
    /// Why `--quick` would skip it, if it would.
    pub quick: Option<String>,
}

/// The selected trials.
#[derive(Debug)]
pub struct Plan {
    pub trials: Vec<Planned>,
    /// Trials the filters left out.
    pub filtered_out: usize,
}

impl Plan {
    pub fn running(&self) -> impl Iterator<Item = &Planned> {
        self.trials.iter().filter(|t| t.skip.is_none())
    }
}

/// Whether `pattern` selects a trial.
pub fn matches(name: &str, id: &str, pattern: &str, exact: bool) -> bool {
    if exact {
        name == pattern || id == pattern
    } else {
        name.contains(pattern)
    }
}

/// A selection of nothing, with the hint that fixes it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoneSelected {
    #[error(
        "no vectors were loaded, so there is nothing to run (point --vectors or SEQTUN_VECTORS at the vectors/ directory)"
    )]
    NoCases,
    #[error(
        "no case matches {0}{1}: case ids look like `node/transport/health` (prefixed `TARGET::` when several targets run); --list shows them"
    )]
    NoMatch(String, &'static str),
    #[error("--skip {0} left no case to run")]
    AllSkipped(String),
    #[error(
        "--ignored runs only the cases a target lacks a feature for, and no selected case is one (use --include-ignored to run those along with the rest)"
    )]
    NothingIgnored,
}

/// Applies the selection flags to every trial of every target.
pub fn choose(all: Vec<Planned>, args: &TestArgs) -> Result<Plan, NoneSelected> {
    if all.is_empty() {
        return Err(NoneSelected::NoCases);
    }
    let total = all.len();
    let wanted = |t: &Planned| {
        args.filters.is_empty()
            || args
                .filters
                .iter()
                .any(|f| matches(&t.name, &t.id, f, args.exact))
    };
    let matched: Vec<Planned> = all.into_iter().filter(|t| wanted(t)).collect();
    if matched.is_empty() {
        let filters: Vec<String> = args.filters.iter().map(|f| format!("`{f}`")).collect();
        let how = if args.exact { " exactly" } else { "" };
        return Err(NoneSelected::NoMatch(filters.join(" or "), how));
    }
    let kept: Vec<Planned> = matched
        .into_iter()
        .filter(|t| {
            !args
                .skip
                .iter()
                .any(|s| matches(&t.name, &t.id, s, args.exact))
        })
        .collect();
    if kept.is_empty() {
        return Err(NoneSelected::AllSkipped(args.skip.join(", ")));
    }
    let mut trials = Vec::new();
    for mut t in kept {
        let missing = matches!(t.skip, Some(Skip::Missing(_)));
        if args.ignored && !missing {
            continue;
        }
        if missing && (args.ignored || args.include_ignored) {
            t.skip = None;
        }
        trials.push(t);
    }
    if trials.is_empty() {
        return Err(NoneSelected::NothingIgnored);
    }
    let filtered_out = total - trials.len();
    Ok(Plan {
        trials,
        filtered_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(name: &str, id: &str, skip: Option<Skip>) -> Planned {
        Planned {
            name: name.into(),
            id: id.into(),
            target_label: "t".into(),
            target: TargetRef::Node(0),
            case: 0,
            level: Level::Must,
            title: String::new(),
            skip,
            estimate: Duration::ZERO,
            quick: None,
        }
    }

    fn args(f: impl FnOnce(&mut TestArgs)) -> TestArgs {
        let mut a = TestArgs::default();
        f(&mut a);
        a
    }

    fn two_targets() -> Vec<Planned> {
        vec![
            trial("a::node/transport/health", "node/transport/health", None),
            trial("b::node/transport/health", "node/transport/health", None),
            trial(
                "b::node/seq/hold-later-seq",
                "node/seq/hold-later-seq",
                Some(Skip::Missing(vec!["pipeline-seq".into()])),
            ),
        ]
    }

    #[test]
    fn exact_accepts_the_id_as_printed_and_the_full_name() {
        let p = choose(
            two_targets(),
            &args(|a| {
                a.exact = true;
                a.filters = vec!["node/transport/health".into()];
            }),
        )
        .unwrap();
        assert_eq!(p.trials.len(), 2);
        assert_eq!(p.filtered_out, 1);
        let p = choose(
            two_targets(),
            &args(|a| {
                a.exact = true;
                a.filters = vec!["b::node/transport/health".into()];
            }),
        )
        .unwrap();
        assert_eq!(p.trials.len(), 1);
    }

    #[test]
    fn selecting_nothing_is_an_error_with_a_hint() {
        let typo = choose(two_targets(), &args(|a| a.filters = vec!["nod/seq".into()]));
        let e = typo.unwrap_err();
        assert!(e.to_string().contains("no case matches `nod/seq`"), "{e}");
        assert!(e.to_string().contains("--list"), "{e}");
        assert_eq!(
            choose(Vec::new(), &TestArgs::default()).unwrap_err(),
            NoneSelected::NoCases
        );
        let all_skipped = choose(two_targets(), &args(|a| a.skip = vec!["node/".into()]));
        assert!(matches!(all_skipped, Err(NoneSelected::AllSkipped(_))));
        let none_ignored = choose(two_targets()[..2].to_vec(), &args(|a| a.ignored = true));
        assert_eq!(none_ignored.unwrap_err(), NoneSelected::NothingIgnored);
    }

    #[test]
    fn ignored_and_include_ignored_run_the_cases_a_target_lacks_features_for() {
        let p = choose(two_targets(), &args(|a| a.ignored = true)).unwrap();
        assert_eq!(p.trials.len(), 1);
        assert_eq!(p.trials[0].skip, None);
        let p = choose(two_targets(), &args(|a| a.include_ignored = true)).unwrap();
        assert_eq!(p.running().count(), 3);
        let p = choose(two_targets(), &TestArgs::default()).unwrap();
        assert_eq!(p.running().count(), 2);
    }
}
