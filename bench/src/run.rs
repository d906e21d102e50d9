//! Running tables: under criterion (`cargo bench`: a warm-up run, then ten runs per mode, each
//! run one sample) or directly (`SEQTUN_BENCH_QUICK=1` and the smoke test: a few runs per
//! mode, no statistics).

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use tokio::runtime::Runtime;

use crate::mode::Mode;
use crate::origin::Origin;
use crate::report::Table;
use crate::settings::Settings;
use crate::stack::{Spec, Stack};
use crate::suite::Plan;
use crate::workload::Sample;

/// Runs per mode under criterion (its minimum).
pub const CRITERION_SAMPLES: usize = 10;
/// Runs per mode in the quick run. Their median is the table's figure, so one slow first run
/// (a fresh stack's first connections) cannot move it, and no warm-up run is spent.
pub const QUICK_RUNS: usize = 3;
/// Warm-up runs per mode in the quick run: none (see [`QUICK_RUNS`]).
pub const QUICK_WARM_UP: usize = 0;

/// What every table shares: the load generator's runtime, the settings and the origin.
pub struct Runner {
    pub rt: Runtime,
    pub settings: Settings,
    pub origin: Origin,
}

/// Why a bench cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    #[error("origin: {0}")]
    Origin(std::io::Error),
    #[error("{table}/{mode}: {source}")]
    Stack {
        table: String,
        mode: Mode,
        source: crate::stack::StackError,
    },
    #[error("{table}/{mode}: {source}")]
    App {
        table: String,
        mode: Mode,
        source: crate::app::AppError,
    },
}

impl Runner {
    /// The runtime for client, relay, origin and apps (two workers: the machine's cores),
    /// and the origin on it.
    pub fn new(settings: Settings) -> Result<Self, RunError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-load")
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        let origin = rt.block_on(Origin::start()).map_err(RunError::Origin)?;
        Ok(Self {
            rt,
            settings,
            origin,
        })
    }

    /// From the environment.
    pub fn from_env() -> Result<Self, RunError> {
        Self::new(Settings::from_env()?)
    }

    /// The modes a plan runs with this node under test: an external node cannot be switched
    /// to a setting of its own (no preemption).
    pub fn modes(&self, plan: &Plan) -> Vec<Mode> {
        plan.modes
            .iter()
            .copied()
            .filter(|m| self.settings.external.is_none() || !m.needs_node_setting())
            .collect()
    }

    fn column(&self, plan: &Plan, mode: Mode) -> Result<Stack, RunError> {
        let spec = Spec {
            mode,
            hop: plan.hop,
            node: plan.node,
        };
        Stack::start(&self.rt, &self.settings, spec).map_err(|source| RunError::Stack {
            table: plan.id.clone(),
            mode,
            source,
        })
    }

    fn sample(&self, plan: &Plan, mode: Mode, stack: &Stack) -> Result<Sample, RunError> {
        self.rt
            .block_on(plan.workload.run(stack, &self.origin))
            .map_err(|source| RunError::App {
                table: plan.id.clone(),
                mode,
                source,
            })
    }

    /// Runs every mode of `plan` `runs` times without criterion, after `warm_up` runs whose
    /// samples are dropped.
    pub fn table(&self, plan: &Plan, warm_up: usize, runs: usize) -> Result<Table, RunError> {
        let mut table = plan.table(&self.settings);
        for mode in self.modes(plan) {
            let stack = self.column(plan, mode)?;
            let result = (0..warm_up + runs)
                .map(|_| self.sample(plan, mode, &stack))
                .collect::<Result<Vec<_>, _>>();
            stack.stop(&self.rt);
            let samples = result?.split_off(warm_up);
            table.rows.push((mode, samples));
        }
        Ok(table)
    }

    /// Runs `plan` under criterion: one bench id per mode, each sample one run. Panics on a
    /// failed run: a broken transfer must not become a number.
    pub fn criterion_table(&self, c: &mut Criterion, plan: &Plan) -> Table {
        let mut table = plan.table(&self.settings);
        let mut group = c.benchmark_group(&plan.id);
        group
            .sample_size(CRITERION_SAMPLES)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(1))
            .nresamples(RESAMPLES);
        if let Some(bytes) = plan.workload.bytes() {
            group.throughput(Throughput::Bytes(bytes));
        }
        for mode in self.modes(plan) {
            let stack = self.column(plan, mode).unwrap_or_else(|e| panic!("{e}"));
            let mut samples = Vec::new();
            let mut warm_up = true;
            group.bench_function(mode.name(), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let s = self
                            .sample(plan, mode, &stack)
                            .unwrap_or_else(|e| panic!("{e}"));
                        total += s.elapsed;
                        if !warm_up {
                            samples.push(s);
                        }
                    }
                    warm_up = false;
                    total
                })
            });
            stack.stop(&self.rt);
            if !samples.is_empty() {
                table.rows.push((mode, samples));
            }
        }
        group.finish();
        table
    }
}

/// Bootstrap resamples per statistic. Criterion's default is 100,000, and its HTML report draws
/// a density of every bootstrap distribution: on this 2-core machine that plotting, not the
/// measuring, took four of the codec bench's minutes. Ten thousand still give stable intervals.
pub const RESAMPLES: usize = 10_000;

/// The criterion every bench starts from: HTML report under `target/criterion` in a full run;
/// none in the quick run, which wants a look, not statistics (`SEQTUN_BENCH_QUICK=1`).
pub fn criterion() -> Criterion {
    let c = Criterion::default().nresamples(RESAMPLES);
    if Settings::from_env().is_ok_and(|s| s.sizes == crate::settings::Sizes::Quick) {
        c.without_plots()
    } else {
        c
    }
}

/// Runs each plan under criterion, or, with `SEQTUN_BENCH_QUICK=1`, [`QUICK_RUNS`] runs per
/// mode without it; publishes every table that ran.
pub fn bench_plans(c: &mut Criterion, plans: impl Fn(&Settings) -> Vec<Plan>) {
    let runner = Runner::from_env().unwrap_or_else(|e| panic!("{e}"));
    println!("{}", runner.settings.describe());
    for plan in plans(&runner.settings) {
        let table = if runner.settings.sizes == crate::settings::Sizes::Quick {
            if !selected(&plan.id) {
                continue;
            }
            runner
                .table(&plan, QUICK_WARM_UP, QUICK_RUNS)
                .unwrap_or_else(|e| panic!("{e}"))
        } else {
            runner.criterion_table(c, &plan)
        };
        if !table.rows.is_empty() {
            table.publish();
        }
    }
}

/// Runs per mode of a table that does not go through criterion, in a full run (the quick run
/// makes one).
pub const FAULT_RUNS: usize = 2;

/// Runs each plan [`FAULT_RUNS`] times per mode (once with `SEQTUN_BENCH_QUICK=1`) without
/// criterion, and publishes every table that ran: for workloads whose runs may end without a
/// complete transfer, which criterion cannot time.
pub fn plain_plans(plans: impl Fn(&Settings) -> Vec<Plan>) {
    let runner = Runner::from_env().unwrap_or_else(|e| panic!("{e}"));
    println!("{}", runner.settings.describe());
    let runs = if runner.settings.sizes == crate::settings::Sizes::Quick {
        1
    } else {
        FAULT_RUNS
    };
    for plan in plans(&runner.settings) {
        if !selected(&plan.id) {
            continue;
        }
        let table = runner
            .table(&plan, 0, runs)
            .unwrap_or_else(|e| panic!("{e}"));
        if !table.rows.is_empty() {
            table.publish();
        }
    }
}

/// The quick run honours a criterion-style filter: the first argument that is not a flag.
fn selected(id: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|f| id.contains(&f))
}
