//! goodput: a 64 MiB download through a relay that loses 5 % of replies, replay-safe seq
//! (§7.10) against a plain #903 node (issue 14).
//!
//! Not criterion samples: against the plain node a download may never complete, and a run that
//! gives up is a result here, not a failure; criterion also wants ten samples per mode, which
//! at up to a minute per run would take the whole bench budget. Each mode runs
//! [`seqtun_bench::run::FAULT_RUNS`] times (once in the quick run) and the table reports them.

use criterion::{Criterion, criterion_group, criterion_main};
use seqtun_bench::run::plain_plans;
use seqtun_bench::suite;

fn faults(_: &mut Criterion) {
    plain_plans(suite::faults);
}

criterion_group! {
    name = benches;
    config = seqtun_bench::run::criterion();
    targets = faults
}
criterion_main!(benches);
