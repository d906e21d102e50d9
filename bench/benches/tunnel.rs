//! The transfer tables of bench/README.md: bulk_down (reply-capped, its latency-0 row, and
//! bandwidth-limited), bulk_up, windowed, rpc_after_idle and many_sessions, in every mode.

use criterion::{Criterion, criterion_group, criterion_main};
use seqtun_bench::run::bench_plans;
use seqtun_bench::suite;

fn tunnel(c: &mut Criterion) {
    bench_plans(c, suite::tunnel);
}

criterion_group! {
    name = benches;
    config = seqtun_bench::run::criterion();
    targets = tunnel
}
criterion_main!(benches);
