//! node_capacity: 64 bulk downloads at once, the client straight at the node; payload MB/s
//! and the node's CPU seconds per GiB moved.

use criterion::{Criterion, criterion_group, criterion_main};
use seqtun_bench::run::bench_plans;
use seqtun_bench::suite;

fn node_capacity(c: &mut Criterion) {
    bench_plans(c, suite::capacity);
}

criterion_group! {
    name = benches;
    config = seqtun_bench::run::criterion();
    targets = node_capacity
}
criterion_main!(benches);
