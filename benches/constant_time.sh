#!/usr/bin/env bash
# Constant-time evidence for CI (SECURITY.md, "Timing of secret compares"): instruction counts
# (valgrind --tool=callgrind) of refusing a wrong HS256 MAC, a wrong API-key hash and a wrong
# Standard Webhooks v1 signature, each wrong in its first compared byte and, separately, in its
# last. Everything else is equal, so an early-exit comparison would show as a smaller count for
# the first-byte case: the two counts must be identical. Each path must also call ring's
# constant-time comparison (CRYPTO_memcmp) as often as it compares (the API-key path twice: its
# checksum, then its hash), so a switch to `==` (whose
# vectorised memcmp costs the same instructions for 32 bytes and would slip past the counts)
# fails too. A control, an early-exit byte loop, must differ, or the harness is blind.
#
# Usage: benches/constant_time.sh [iterations]   (default 20; a few seconds per case)
set -euo pipefail
cd "$(dirname "$0")/.."

iterations="${1:-20}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "error: valgrind is not installed (.ci/run installs it)" >&2
  exit 1
fi

echo "== constant-time secret comparisons (callgrind): wrong first byte vs wrong last byte"
cargo build --release --locked -q -p tollgate-callgrind --bin constant_time
bin="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/constant_time"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prints "<instructions> <CRYPTO_memcmp calls>" of one case, collected inside measure_* only
# (call counts also include the one check of the right value that precedes the loop).
measure() {
  local case="$1" out="$work/$1.callgrind"
  if ! valgrind --tool=callgrind --compress-strings=no --toggle-collect='*measure_*' \
    --callgrind-out-file="$out" "$bin" "$case" "$iterations" >"$work/$case.stdout" 2>"$work/$case.stderr"; then
    echo "error: constant_time $case failed:" >&2
    cat "$work/$case.stderr" >&2
    exit 1
  fi
  local total calls
  total="$(awk '/^(summary|totals):/ { print $2; exit }' "$out")"
  calls="$(awk '/^cfn=/ { hit = ($0 ~ /CRYPTO_memcmp/) }
    /^calls=/ && hit { split($1, a, "="); s += a[2]; hit = 0 } END { print s + 0 }' "$out")"
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "error: no instructions collected for $case" >&2
    exit 1
  fi
  echo "$total $calls"
}

status=0
printf '%-8s %14s %14s %10s  %s\n' path first_byte last_byte ct_calls verdict
for path_calls in hs256:1 apikey:2 webhook:1 naive:0; do
  path="${path_calls%:*}"
  want_calls=$((${path_calls#*:} * iterations))
  read -r first first_calls <<<"$(measure "${path}_first")"
  read -r last last_calls <<<"$(measure "${path}_last")"
  verdict=ok
  if [ "$path" = naive ]; then
    if [ "$first" -eq "$last" ]; then
      verdict="FAIL: the early-exit control shows no difference; the harness cannot see one"
      status=1
    else
      verdict="ok (the control differs, as it must)"
    fi
  elif [ "$first" -ne "$last" ]; then
    verdict="FAIL: the count depends on where the wrong byte is (not constant-time)"
    status=1
  elif [ "$first_calls" -lt "$want_calls" ] || [ "$last_calls" -lt "$want_calls" ]; then
    verdict="FAIL: fewer than $want_calls calls of the constant-time comparison"
    status=1
  fi
  printf '%-8s %14s %14s %10s  %s\n' "$path" "$first" "$last" "$last_calls" "$verdict"
done
echo "(instructions for $iterations refusals, valgrind --tool=callgrind)"
exit "$status"
