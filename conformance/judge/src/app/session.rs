//! One run: the selected cases against every target, then the reports and the exit code. The
//! same for the main job and for `node` / `client`, which differ only in how targets are made.

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::case::{Case, Role};
use crate::cli::Common;
use crate::client::ClientTarget;
use crate::console::estimate::{case_time, human, makespan, quick_reason};
use crate::console::exec::{self, Done, Job};
use crate::console::select::{self, Plan, Planned, Skip, TargetRef};
use crate::console::{Console, list};
use crate::http::Http;
use crate::progress::Progress;
use crate::report::expect::Expectations;
use crate::report::model::{MatrixView, TargetInfo};
use crate::results::CaseResult;
use crate::target::NodeTarget;
use crate::verdict::Outcome;

/// How many cases run at once unless `--test-threads` says otherwise. Cases mostly wait on
/// timers. Measured on the 2-core development machine under load 9-11 from other builds, the
/// release main job took 83 s at 2, 51 s at 4, 35 s and 32 s at 8, 21 s and 23 s at 16, 23 s
/// at 32. 16 would save about 12 s, but the unoptimised build `cargo test` runs then missed the
/// fast profile's sub-second deadlines (2 of 3 runs failed at load 13-15); at 8, 3 of 3 passed.
pub const DEFAULT_LANES: usize = 8;

static START: OnceLock<(SystemTime, Instant)> = OnceLock::new();

/// Marks the start of the run (the reports' start time and duration count from here).
pub fn mark_start() {
    START.get_or_init(|| (SystemTime::now(), Instant::now()));
}

pub(super) fn start() -> (SystemTime, Instant) {
    *START.get_or_init(|| (SystemTime::now(), Instant::now()))
}

/// The probed targets.
#[derive(Default)]
pub struct Targets {
    pub nodes: Vec<Arc<NodeTarget>>,
    pub clients: Vec<Arc<ClientTarget>>,
    /// Nodes first, then clients, in the order above.
    pub infos: Vec<TargetInfo>,
}

/// What the main job adds after the cases: the compatibility matrix, and whether a cell that
/// must work did not.
pub type After<'a> = Box<dyn FnOnce(&Console) -> Option<(MatrixView, bool)> + 'a>;

pub struct Session<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub console: Arc<Console>,
    pub common: &'a Common,
    pub cases: &'a [Case],
    pub expect: Option<Expectations>,
    pub http: Http,
    /// Print only the rows of a comparison whose results differ (the main job's six targets
    /// agree on most cases).
    pub compare_differences: bool,
}

impl<'a> Session<'a> {
    /// A session with the HTTP client `common` asks for (timeout, read budget).
    pub fn new(
        rt: &'a tokio::runtime::Runtime,
        console: Arc<Console>,
        common: &'a Common,
        cases: &'a [Case],
        expect: Option<Expectations>,
    ) -> Self {
        let http = Http::with_limits(
            Duration::from_secs(common.request_timeout),
            common.max_read_bytes,
        );
        Self {
            rt,
            console,
            common,
            cases,
            expect,
            http,
            compare_differences: false,
        }
    }
}

/// The trial name: the case id, prefixed with the target when several targets run.
pub fn trial_name(target: &str, id: &str, prefixed: bool) -> String {
    if prefixed {
        format!("{target}::{id}")
    } else {
        id.to_string()
    }
}

/// Every case against every target of its role, before selection.
pub fn candidates(cases: &[Case], t: &Targets) -> Vec<Planned> {
    let prefixed = t.nodes.len() + t.clients.len() > 1;
    let mut out = Vec::new();
    let mut add = |target: TargetRef, label: &str, missing: Vec<&str>, ci: usize, params| {
        let c: &Case = &cases[ci];
        out.push(Planned {
            name: trial_name(label, &c.id, prefixed),
            id: c.id.clone(),
            target_label: label.to_string(),
            target,
            case: ci,
            level: c.file.level,
            title: c.file.title.clone(),
            skip: (!missing.is_empty())
                .then(|| Skip::Missing(missing.iter().map(|m| m.to_string()).collect())),
            estimate: case_time(c, params),
            quick: quick_reason(c, params),
        });
    };
    for (i, n) in t.nodes.iter().enumerate() {
        for (ci, c) in cases
            .iter()
            .enumerate()
            .filter(|(_, c)| c.file.role == Role::Node)
        {
            add(
                TargetRef::Node(i),
                &n.label,
                n.missing(&c.file.requires),
                ci,
                &n.params,
            );
        }
    }
    for (i, cl) in t.clients.iter().enumerate() {
        for (ci, c) in cases
            .iter()
            .enumerate()
            .filter(|(_, c)| c.file.role == Role::Client)
        {
            add(
                TargetRef::Client(i),
                &cl.label,
                cl.missing(&c.file.requires),
                ci,
                &cl.params,
            );
        }
    }
    out
}

impl Session<'_> {
    /// Selects, lists or runs the cases, then reports; the exit code says how it went.
    pub fn run(self, targets: Targets, after: Option<After<'_>>) -> ExitCode {
        let mut plan = match select::choose(candidates(self.cases, &targets), &self.common.test) {
            Ok(p) => p,
            Err(e) => return super::setup::error(e.to_string()),
        };
        if self.common.quick {
            for t in plan.trials.iter_mut().filter(|t| t.skip.is_none()) {
                t.skip = t.quick.clone().map(Skip::Quick);
            }
        }
        if self.common.test.list {
            list::print(&self.console, &plan, true);
            return ExitCode::SUCCESS;
        }
        let lanes = self
            .common
            .test
            .test_threads
            .unwrap_or(DEFAULT_LANES)
            .max(1);
        self.announce(&plan, targets.infos.len(), lanes);
        let results = self.execute(&plan, &targets, lanes);
        self.console.failures(&results);
        let matrix = after.and_then(|f| f(&self.console));
        self.finish(&plan, targets.infos, results, matrix)
    }

    /// `--matrix-only`: no cases, just what `after` adds, reported as usual.
    pub fn matrix_only(self, after: After<'_>) -> ExitCode {
        let matrix = after(&self.console);
        let plan = Plan {
            trials: Vec::new(),
            filtered_out: 0,
        };
        self.finish(&plan, Vec::new(), Vec::new(), matrix)
    }

    /// The estimate line, and what `--quick` skips (or would).
    fn announce(&self, plan: &Plan, targets: usize, lanes: usize) {
        let running: Vec<&Planned> = plan.running().collect();
        let times: Vec<Duration> = running.iter().map(|t| t.estimate).collect();
        let mut line = format!(
            "estimate: {} case{} on {targets} target{}, at least {} with {lanes} at a time (the waits the vectors prescribe)",
            running.len(),
            if running.len() == 1 { "" } else { "s" },
            if targets == 1 { "" } else { "s" },
            human(makespan(&times, lanes)),
        );
        if let Some(longest) = running.iter().max_by_key(|t| t.estimate) {
            line.push_str(&format!(
                "; the longest, {}, {}",
                longest.name,
                human(longest.estimate)
            ));
        }
        let quick: Vec<&Planned> = plan
            .trials
            .iter()
            .filter(|t| matches!(t.skip, Some(Skip::Quick(_))))
            .collect();
        let would = running.iter().filter(|t| t.quick.is_some()).count();
        if would > 0 {
            line.push_str(&format!(
                "; --quick would skip the {would} that wait for deployed timeouts"
            ));
        }
        self.console.line(&line);
        if !quick.is_empty() {
            self.console.line(&format!(
                "--quick: skipping {} case{} that wait for deployed timeouts (idle reaping, seq-wait timeouts):",
                quick.len(),
                if quick.len() == 1 { "" } else { "s" }
            ));
            for t in quick {
                let why = t.skip.as_ref().map(Skip::reason).unwrap_or_default();
                self.console.line(&format!(
                    "  {}: {}",
                    t.name,
                    why.trim_start_matches("--quick: ")
                ));
            }
        }
    }

    fn job(&self, index: usize, p: &Planned, targets: &Targets) -> Job {
        let progress = Progress::default();
        let tracked = progress.clone();
        let case = self.cases[p.case].clone();
        let run: std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>> =
            match p.target {
                TargetRef::Node(i) => {
                    let (t, http) = (Arc::clone(&targets.nodes[i]), self.http.clone());
                    Box::pin(
                        async move { crate::node::run_case_with(&case, &t, &http, &tracked).await },
                    )
                }
                TargetRef::Client(i) => {
                    let t = Arc::clone(&targets.clients[i]);
                    Box::pin(async move { crate::client::run_case_with(&case, &t, &tracked).await })
                }
            };
        Job {
            index,
            name: p.name.clone(),
            progress,
            run,
        }
    }

    /// Runs the plan; results come back in plan order.
    fn execute(&self, plan: &Plan, targets: &Targets, lanes: usize) -> Vec<CaseResult> {
        let strict = self.common.strict;
        let name_w = plan.trials.iter().map(|t| t.name.len()).max().unwrap_or(0);
        self.console.set_widths(8, name_w);
        self.console.started(plan.trials.len());
        let mut slots: Vec<Option<CaseResult>> = vec![None; plan.trials.len()];
        let mut jobs = Vec::new();
        for (i, p) in plan.trials.iter().enumerate() {
            match &p.skip {
                Some(skip) => {
                    let outcome = Outcome::Ignored {
                        reason: skip.reason(),
                    };
                    let r = CaseResult::new(
                        &p.target_label,
                        p.name.clone(),
                        &self.cases[p.case],
                        outcome,
                        strict,
                        None,
                    );
                    self.console.result(&r);
                    slots[i] = Some(r);
                }
                None => jobs.push(self.job(i, p, targets)),
            }
        }
        let console = Arc::clone(&self.console);
        self.rt.block_on(exec::run(jobs, lanes, console, |d: Done| {
            let p = &plan.trials[d.index];
            let r = CaseResult::new(
                &p.target_label,
                p.name.clone(),
                &self.cases[p.case],
                d.outcome,
                strict,
                Some((d.started, d.elapsed)),
            );
            self.console.result(&r);
            slots[d.index] = Some(r);
        }));
        slots.into_iter().flatten().collect()
    }
}
