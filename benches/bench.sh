#!/usr/bin/env bash
# Runs the three criterion benchmarks (verify, engine, scaling) one at a time, RUNS times in turn
# (default 3), keeps each run's results, and prints benches/README.md's tables from the lowest
# median of each id across the runs: on a shared machine, other load only ever slows a run down.
#
# Usage: benches/bench.sh              (RUNS=3, FEATURES=peers,aws-lc, MEASURE=3 seconds)
# Needs, for the peers: Rust 1.89+, cmake, a C++ compiler and libclang (BoringSSL for jwt-simple).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-3}"
features="${FEATURES:-peers,aws-lc}"
measure="${MEASURE:-3}"
target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
out="$target/bench-runs"
rm -rf "$out"
mkdir -p "$out"

cargo bench -p tollgate-benches --features "$features" --no-run
for i in $(seq "$runs"); do
  for bench in verify engine scaling; do
    echo "run $i/$runs: $bench" >&2
    cargo bench -q -p tollgate-benches --features "$features" --bench "$bench" -- \
      --warm-up-time 1 --measurement-time "$measure" >"$out/$bench-$i.log" 2>&1
  done
  cp -r "$target/criterion" "$out/run-$i"
done
cargo run -q -p tollgate-benches --bin report -- "$out"/run-*
