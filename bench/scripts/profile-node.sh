#!/bin/sh
# Profiles a release seqtun-node under the node_capacity workload (quick sizes) with perf's
# software clock (this VM has no hardware counters), then prints the top symbols.
# Usage: bench/scripts/profile-node.sh [perf.data]   (from the repository root, perf installed)
set -e
OUT=${1:-target/perf-node.data}
cargo build --release -q -p seqtun-node --bin seqtun-node
cargo bench -q -p seqtun-bench --bench node_capacity --no-run
BENCH=$(ls -t target/release/deps/node_capacity-* | grep -v '\.d$' | head -1)
LOG=$(mktemp)
target/release/seqtun-node --listen 127.0.0.1:0 --key profile-key --stats-secs 0 \
    --longpoll-ms 2000 --active-drain-ms 46 --settle-max-ms 133 --seq-wait-ms 4000 > "$LOG" 2>/dev/null &
NODE=$!
sleep 1
ADDR=$(head -1 "$LOG" | sed 's/listening on //')
perf record -F 499 -e cpu-clock -p "$NODE" -o "$OUT" 2>/dev/null &
PERF=$!
SEQTUN_BENCH_QUICK=1 SEQTUN_BENCH_NODE_URL="http://$ADDR" SEQTUN_BENCH_NODE_KEY=profile-key \
    SEQTUN_BENCH_NODE_PID=$NODE "$BENCH" --bench
kill -INT $PERF; sleep 2
kill $NODE
perf report -i "$OUT" --stdio --no-children --sort symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
