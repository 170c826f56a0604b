#!/usr/bin/env bash
# The C library, the Python package and the Go module built with the aws-lc backend: builds
# libtollgate with `--features aws-lc` (it then prefers aws-lc wherever it reads keys), and runs
# against it, each asserting that the library lists "aws-lc,ring":
# - C: scenarios.c (the four deployments' tables), jws_vectors.c (the shared JWS vectors) and
#   errors.c (statuses, and the "backend" option), statically linked;
# - Python: the backend, vector, native-path and scenario tests, with TOLLGATE_LIBRARY pointing
#   the installed package (.venv-test, which scripts/test makes first) at ffi/python built with
#   aws-lc, as a package installed with TOLLGATE_CARGO_FEATURES=aws-lc would load it;
# - Go: the backend, vector and scenario tests, cgo linking this build's libtollgate.a.
# Leaves target/release/libtollgate.{a,so} and libtollgate_python.so as the aws-lc build; the ring
# build is one `cargo build --release -p tollgate-ffi -p tollgate-python` away (cargo keeps both
# compiled).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/aws-lc-bindings
export TOLLGATE_EXPECT_BACKENDS=aws-lc,ring

cargo build --release --locked -p tollgate-ffi -p tollgate-python --features tollgate-ffi/aws-lc,tollgate-python/aws-lc
rm -rf "$out"
mkdir -p "$out/lib" "$out/bin"
cp "$target/release/libtollgate.a" "$target/release/libtollgate.so" "$target/release/libtollgate_python.so" "$out/lib/"

echo "-- C (static libtollgate.a, aws-lc)"
for p in scenarios jws_vectors errors; do
  gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -Itests/c -Iinclude -o "$out/bin/$p" \
    "tests/c/$p.c" "$out/lib/libtollgate.a" -lpthread -ldl -lm -lcjson
done
"$out/bin/scenarios" "$root"
"$out/bin/jws_vectors" "$root/../shared/vectors" "$root/tests/jws-derived-codes.json"
"$out/bin/errors"

echo "-- Python (TOLLGATE_LIBRARY=libtollgate_python.so, aws-lc)"
venv=.venv-test
[ -x "$venv/bin/python" ] || { echo "error: $venv is missing (scripts/test makes it)" >&2; exit 1; }
TOLLGATE_LIBRARY="$out/lib/libtollgate_python.so" "$venv/bin/python" -m pytest -p no:cacheprovider -q \
  bindings/python/tests/test_backends.py bindings/python/tests/test_jws_vectors.py \
  bindings/python/tests/test_native.py bindings/python/tests/test_scenarios.py

echo "-- Go (cgo, libtollgate.a, aws-lc)"
(
  cd bindings/go
  export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=1
  case "$(go env GOCACHE)" in "" | off) export GOCACHE="$root/target/go-build" ;; esac
  # cgo caches builds without hashing the libraries LDFLAGS names: the library's hash in the C
  # flags relinks the tests against this build (as scripts/test does for the ring build).
  lib_hash=$(sha256sum "$root/target/release/libtollgate.a" | cut -c1-16)
  export CGO_CFLAGS="${CGO_CFLAGS:-$(go env CGO_CFLAGS)} -DTOLLGATE_LIB_SHA256_${lib_hash}"
  status=0
  go test -count=1 -run 'TestBackends|TestRFCExamples|TestDerivedCases|TestScenarios' -v . \
    >"$out/go.log" 2>&1 || status=$?
  grep -E '^(--- |ok|FAIL)|RFC examples verified|agree' "$out/go.log" || true
  [ "$status" -eq 0 ] || { cat "$out/go.log" >&2; exit "$status"; }
)
echo "-- C, Python and Go pass on the aws-lc build"
