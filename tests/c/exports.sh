#!/usr/bin/env bash
# The shared library exports exactly the functions include/tollgate.h declares: every dynamic
# symbol it defines is a tg_ function of the header, and every function of the header is exported.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
lib=$target/release/libtollgate.so

# With ffi/python, as tests/c/run.sh builds: one feature resolution for both libraries.
cargo build --release --locked -p tollgate-ffi -p tollgate-python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$tmp/exported"
grep -oE '\btg_[a-z0-9_]+\(' include/tollgate.h | tr -d '(' | sort -u >"$tmp/declared"

status=0
if grep -v '^tg_' "$tmp/exported" >"$tmp/foreign"; then
  echo "error: libtollgate.so exports symbols without the tg_ prefix:" >&2
  cat "$tmp/foreign" >&2
  status=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
  echo "error: exported symbols differ from the header's functions (- header, + library):" >&2
  cat "$tmp/diff" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "libtollgate.so exports exactly the $(wc -l <"$tmp/exported") tg_ functions of include/tollgate.h"
exit "$status"
