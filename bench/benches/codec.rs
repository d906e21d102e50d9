//! codec: the client's and the node's JSON/base64 paths for typical batches (64 KiB and 1 MiB
//! payloads, 1 and 50 ops), in MB/s of payload, each direction's encode and decode on one core.

use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use seqtun_bench::codec::{Case, client_decode, client_encode, node_decode, node_encode};
use seqtun_bench::codec_table;
use seqtun_bench::settings::{RELAY_KEY, Settings, Sizes};

fn codec(c: &mut Criterion) {
    let quick = Settings::from_env().is_ok_and(|s| s.sizes == Sizes::Quick);
    let mut group = c.benchmark_group("codec");
    // Flat sampling: every sample runs the same number of iterations. Criterion's default
    // (linear) grows them 1, 2, ... per sample, which for a 50 MiB batch meant 210 encodes of
    // half a second each per measurement: seven of the full run's 22 minutes.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .nresamples(seqtun_bench::run::RESAMPLES)
        .warm_up_time(Duration::from_millis(if quick { 100 } else { 300 }))
        .measurement_time(Duration::from_millis(if quick { 300 } else { 1000 }));
    let load_before = seqtun_bench::report::load_average();
    for case in Case::ALL {
        let payloads = case.payloads();
        let request = client_encode(RELAY_KEY, &payloads);
        let reply = node_encode(&payloads);
        group.throughput(Throughput::Bytes(case.bytes()));
        let label = case.label();
        group.bench_with_input(
            BenchmarkId::new("client_encode", &label),
            &payloads,
            |b, p| b.iter(|| client_encode(RELAY_KEY, p)),
        );
        group.bench_with_input(BenchmarkId::new("node_decode", &label), &request, |b, r| {
            b.iter(|| node_decode(r))
        });
        group.bench_with_input(
            BenchmarkId::new("node_encode", &label),
            &payloads,
            |b, p| b.iter(|| node_encode(p)),
        );
        group.bench_with_input(BenchmarkId::new("client_decode", &label), &reply, |b, r| {
            b.iter(|| client_decode(r))
        });
    }
    group.finish();
    codec_table::publish(load_before);
}

criterion_group! {
    name = benches;
    config = seqtun_bench::run::criterion();
    targets = codec
}
criterion_main!(benches);
