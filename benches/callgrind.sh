#!/usr/bin/env bash
# Noise-free performance check for CI: instruction counts (valgrind --tool=callgrind) of Tollgate's
# full HS256 and ES256 verification against the raw ring floor (base64url-decode + HMAC/signature)
# of the same token. Counts do not depend on the machine's load, so the ratios are stable on shared
# runners. Fails if tollgate/floor exceeds 1.30 for HS256 or 1.05 for ES256: tighter than the
# issue's 2.0 and 1.10, guarding the measured level (1.206 and 1.009 on 2026-12-06, after the
# profile-led trimming of the JSON reader and the token split; the margin allows for another
# CPU's code paths under valgrind).
#
# Usage: benches/callgrind.sh [iterations]        the CI check (default 200 iterations; counts
#                                                are per verification)
#        benches/callgrind.sh --all [iterations]  every algorithm and path, for benches/README.md
#                                                (no thresholds; default 20 iterations)
set -euo pipefail
cd "$(dirname "$0")/.."

all=0
if [ "${1:-}" = "--all" ]; then
  all=1
  shift
fi
iterations="${1:-$([ "$all" = 1 ] && echo 20 || echo 200)}"
max_hs256="1.30"
max_es256="1.05"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "error: valgrind is not installed (.ci/run installs it)" >&2
  exit 1
fi

if [ "$all" = 0 ]; then
  echo "== instruction counts (callgrind): HS256 and ES256 verification against the ring floor"
fi

# A small crate (tollgate, ring, base64 only): no criterion, no peer libraries, no aws-lc.
cargo build --release --locked -q -p tollgate-callgrind --bin callgrind_paths
bin="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/callgrind_paths"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Instructions per verification, collected only inside the measured loop (the measure_* functions
# of callgrind_paths): setup, key parsing and the warm-up call are not counted.
count() {
  local path="$1" out="$work/$1.callgrind"
  if ! valgrind --tool=callgrind --toggle-collect='*measure_*' --callgrind-out-file="$out" \
    "$bin" "$path" "$iterations" >"$work/$path.stdout" 2>"$work/$path.stderr"; then
    echo "error: callgrind_paths $path failed:" >&2
    cat "$work/$path.stderr" >&2
    exit 1
  fi
  local total
  total="$(awk '/^(summary|totals):/ { print $2; exit }' "$out")"
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "error: no instructions collected for $path" >&2
    exit 1
  fi
  echo $((total / iterations))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

if [ "$all" = 1 ]; then
  printf '%-6s %12s %12s %12s %16s %10s %10s %10s\n' alg tollgate cached ring_floor ring_floor_json \
    vs_floor vs_json cached/tg
  for alg in hs256 rs256 ps256 es256 es384 eddsa; do
    t="$(count "$alg")"
    c="$(count "${alg}_cached")"
    f="$(count "${alg}_floor")"
    j="$(count "${alg}_floor_json")"
    printf '%-6s %12s %12s %12s %16s %10s %10s %10s\n' "$alg" "$t" "$c" "$f" "$j" \
      "$(ratio "$t" "$f")" "$(ratio "$t" "$j")" "$(ratio "$c" "$t")"
  done
  echo
  printf '%-17s %12s %12s %12s\n' deployment check_into verify overhead
  for d in project-oidc workspace-api service-accounts tenant-path; do
    e="$(count "engine_$d")"
    v="$(count "engine_${d}_verify")"
    printf '%-17s %12s %12s %12s\n' "$d" "$e" "$v" "$((e - v))"
  done
  echo "(instructions per verification or check, $iterations iterations each, valgrind --tool=callgrind)"
  exit 0
fi

hs256="$(count hs256)"
hs256_floor="$(count hs256_floor)"
es256="$(count es256)"
es256_floor="$(count es256_floor)"

hs_ratio="$(ratio "$hs256" "$hs256_floor")"
es_ratio="$(ratio "$es256" "$es256_floor")"

printf '%-12s %14s %14s %8s %8s\n' path tollgate ring_floor ratio max
printf '%-12s %14s %14s %8s %8s\n' HS256 "$hs256" "$hs256_floor" "$hs_ratio" "$max_hs256"
printf '%-12s %14s %14s %8s %8s\n' ES256 "$es256" "$es256_floor" "$es_ratio" "$max_es256"
echo "(instructions per verification, $iterations iterations each, valgrind --tool=callgrind)"

status=0
if awk -v r="$hs_ratio" -v m="$max_hs256" 'BEGIN { exit !(r > m) }'; then
  echo "FAIL: HS256 verification costs ${hs_ratio}x the ring floor (limit ${max_hs256}x)" >&2
  status=1
fi
if awk -v r="$es_ratio" -v m="$max_es256" 'BEGIN { exit !(r > m) }'; then
  echo "FAIL: ES256 verification costs ${es_ratio}x the ring floor (limit ${max_es256}x)" >&2
  status=1
fi
exit "$status"
