#!/usr/bin/env bash
# The C test programs: builds the release static library, stages it with include/tollgate.h and a
# tollgate.pc made from ffi/tollgate.pc.in, compiles every program in tests/c with the flags
# pkg-config gives, runs them, runs them linked against the shared library, runs them again under
# Valgrind (no errors, no definite or indirect leaks; the hammer with fewer iterations), then
# builds and runs an ASan/UBSan variant; last, panic.c against a debug library with the test-only
# fault-injection feature, natively and under Valgrind. keysource.c fetches from
# tests/keysource/jwks_server.py, which this script starts on 127.0.0.1 and stops on exit.
#
# Needs gcc, valgrind, pkg-config and libcjson-dev (.ci/run installs them), and
# ../shared/vectors beside the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
vectors=$root/../shared/vectors
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/c-tests
start=$SECONDS

for tool in gcc valgrind pkg-config; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (.ci/run installs it)" >&2; exit 1; }
done
[ -f /usr/include/cjson/cJSON.h ] || { echo "error: libcjson-dev is missing" >&2; exit 1; }

# With the Python package's library (ffi/python) in the same invocation, so that the two share
# one feature resolution (pyo3 turns on libc's std, which rebuilds ring and the core) and every
# later build of either (the Python, Go and aws-lc steps of scripts/test) finds them built.
echo "-- cargo build --release -p tollgate-ffi -p tollgate-python"
cargo build --release --locked -p tollgate-ffi -p tollgate-python

# A prefix as an install would lay it out; only the static library, so -ltollgate picks it.
prefix=$out/prefix
rm -rf "$out"
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$out/bin"
cp include/tollgate.h "$prefix/include/"
cp "$target/release/libtollgate.a" "$prefix/lib/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
sed -e "s|@prefix@|$prefix|" -e "s|@version@|$version|" ffi/tollgate.pc.in \
  >"$prefix/lib/pkgconfig/tollgate.pc"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion tollgate)" = "$version" ]
cflags="-std=c11 -Wall -Wextra -Wpedantic -Werror -g -Itests/c $(pkg-config --cflags tollgate)"
libs="$(pkg-config --libs --static tollgate) -lcjson"

# keysource.c fetches from tests/keysource/jwks_server.py: one server for every run, on a free
# port of 127.0.0.1, stopped on exit (each run resets its state and hit counts).
python3 tests/keysource/jwks_server.py >"$out/jwks_server.out" 2>&1 &
jwks_server=$!
trap 'kill "$jwks_server" 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$out/jwks_server.out")
  [ -n "$port" ] && break
  kill -0 "$jwks_server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "error: jwks_server.py did not start:" >&2; cat "$out/jwks_server.out" >&2; exit 1; }

programs=(scenarios jws_vectors hammer errors surface keysource store)
args_for() { # program, mode (long | short: the hammer's iterations)
  case $1 in
    scenarios | surface | store) echo "$root" ;;
    keysource) echo "$root $port" ;;
    jws_vectors) echo "$vectors $root/tests/jws-derived-codes.json" ;;
    hammer) if [ "$2" = long ]; then echo "$root 300"; else echo "$root 3"; fi ;;
    errors) echo "" ;;
  esac
}

build() { # output directory, extra flags...
  local dir=$1
  shift
  mkdir -p "$dir"
  for p in "${programs[@]}"; do
    # shellcheck disable=SC2086
    gcc $cflags -O1 "$@" -o "$dir/$p" "tests/c/$p.c" $libs
  done
}

run_all() { # directory, mode, runner...
  local dir=$1 mode=$2
  shift 2
  for p in "${programs[@]}"; do
    # shellcheck disable=SC2046
    "$@" "$dir/$p" $(args_for "$p" "$mode")
  done
}

echo "-- compile (gcc, static libtollgate.a via pkg-config)"
build "$out/bin"
echo "-- run"
run_all "$out/bin" long

echo "-- the same programs linked against libtollgate.so (as ctypes or a dynamic cgo link loads it)"
mkdir -p "$out/shared/lib"
cp "$target/release/libtollgate.so" "$out/shared/lib/"
for p in "${programs[@]}"; do
  # shellcheck disable=SC2086
  gcc $cflags -O1 -o "$out/shared/$p" "tests/c/$p.c" -L"$out/shared/lib" -Wl,-rpath,"$out/shared/lib" \
    -ltollgate -lcjson
done
run_all "$out/shared" short

echo "-- valgrind"
run_all "$out/bin" short valgrind -q --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect

echo "-- AddressSanitizer + UndefinedBehaviorSanitizer"
build "$out/asan" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  run_all "$out/asan" long env

# panic.c needs a library no one ships: a debug build (no LTO: seconds) with the test-only cargo
# feature `fault-injection`, under which a check of the method TOLLGATE-FAULT-INJECTION panics
# inside the engine. Staged in a prefix of its own so that nothing else links it. The panic
# message on stderr is expected.
echo "-- a panic inside the engine comes back as TG_STATUS_PANIC (debug library, fault-injection)"
cargo build --locked -p tollgate-ffi --features fault-injection
faults=$out/faults
mkdir -p "$faults/include" "$faults/lib/pkgconfig"
cp include/tollgate.h "$faults/include/"
cp "$target/debug/libtollgate.a" "$faults/lib/"
sed -e "s|@prefix@|$faults|" -e "s|@version@|$version|" ffi/tollgate.pc.in \
  >"$faults/lib/pkgconfig/tollgate.pc"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -g -Itests/c \
  $(PKG_CONFIG_PATH=$faults/lib/pkgconfig pkg-config --cflags tollgate) -O1 -o "$faults/panic" \
  tests/c/panic.c $(PKG_CONFIG_PATH=$faults/lib/pkgconfig pkg-config --libs --static tollgate) -lcjson
RUST_BACKTRACE=0 "$faults/panic"
RUST_BACKTRACE=0 valgrind -q --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "$faults/panic"

echo "-- C tests passed in $((SECONDS - start)) s"
