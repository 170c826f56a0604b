#!/usr/bin/env bash
# Runs the fuzz targets: seeds the corpora from the shared vectors and the example deployments
# (fuzz/seed.py), builds every target once (cargo-fuzz: libFuzzer + AddressSanitizer), replays the
# regression inputs, then fuzzes each target for the given time. Any crash fails the run, names
# the input, and says how to keep it as a regression test.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 20 seconds, every target)
#
# Targets run side by side, one per core (FUZZ_JOBS=<n> to change it).
#
# scripts/test runs it with the default (a smoke run); longer runs are recorded in fuzz/README.md.
# Logs go to fuzz/logs/<target>.log (git-ignored); the last status line of each is printed.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^tollgate-fuzz$')
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "error: cargo-fuzz is missing (.ci/run installs cargo-fuzz 0.13.2)" >&2
  exit 1
fi
# libFuzzer's instrumentation needs nightly flags. Use the nightly toolchain when the machine has
# one; otherwise let the stable compiler accept them (RUSTC_BOOTSTRAP), as nothing else can be
# fetched here.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi

python3 seed.py corpus >/dev/null
mkdir -p logs
# One build for every target (release, debug assertions, AddressSanitizer).
cargo "${toolchain[@]}" fuzz build 2>&1 | grep -v '^ *Compiling' || true
for t in "${targets[@]}"; do
  [ -x "target/x86_64-unknown-linux-gnu/release/$t" ] || {
    echo "error: fuzz target $t did not build" >&2
    exit 1
  }
done

# One libFuzzer process per target, as many at once as the machine has cores (FUZZ_JOBS to
# change it): each target still gets its seconds of a core, the whole run takes a fraction.
fuzz_one() {
  local t=$1
  mkdir -p "corpus/$t" "regressions/$t" "artifacts/$t"
  # The regression inputs are read (and so replayed) first; new finds go to corpus/$t.
  if "target/x86_64-unknown-linux-gnu/release/$t" "corpus/$t" "regressions/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1; then
    echo ok >"logs/$t.status"
  else
    echo failed >"logs/$t.status"
  fi
}
parallel=${FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
  rm -f "logs/$t.status"
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
    wait -n || true
  done
  fuzz_one "$t" &
done
wait

# Reported in the targets' order, once all have finished.
failed=()
for t in "${targets[@]}"; do
  if [ "$(cat "logs/$t.status" 2>/dev/null)" != ok ]; then
    failed+=("$t")
    echo "FAIL $t: $(grep -m1 -E 'panicked at|ERROR: ' "logs/$t.log" || echo 'see the log')"
    grep -A3 'panicked at' "logs/$t.log" | head -8 || true
    echo "  input: $(ls -t "artifacts/$t"/* 2>/dev/null | head -1); log: fuzz/logs/$t.log"
    continue
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "logs/$t.log" | tail -1)
  echo "ok   $t: $runs runs in ${seconds}s, $cov"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "error: ${#failed[@]} fuzz target(s) failed: ${failed[*]}" >&2
  echo "Reproduce: cargo +nightly fuzz run <target> <input>; keep the (minimised: cargo fuzz tmin)" >&2
  echo "input as fuzz/regressions/<target>/<name> once fixed: cargo test in fuzz/ replays it." >&2
  exit 1
fi
