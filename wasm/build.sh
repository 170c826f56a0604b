#!/usr/bin/env bash
# Builds the Tollgate WebAssembly package: pkg/node (CommonJS, for Node) and pkg/web (an ES
# module for Cloudflare Workers / workerd, Deno, Vercel Edge and browsers), each with TypeScript
# types generated from the Rust doc comments, optimised with wasm-opt -Oz (binaryen from npm).
#
# Needs: the wasm32-unknown-unknown target, clang and llvm-ar (ring's C code), wasm-bindgen-cli at
# exactly the version of the wasm-bindgen crate in Cargo.lock, and `npm ci` in this directory
# (run here when node_modules is missing). .ci/run installs all of them.
#
# `build.sh --faults` builds instead pkg-faults/node (git-ignored), for test/panic.test.mjs only: a
# debug build with the test-only cargo feature `fault-injection` (a check of the method
# TOLLGATE-FAULT-INJECTION panics inside the engine), not optimised. Never ship it.
set -euo pipefail
cd "$(dirname "$0")"
root=..
faults=""
case "${1:-}" in
  "") ;;
  --faults) faults=1 ;;
  *) echo "usage: $0 [--faults]" >&2; exit 2 ;;
esac

lock_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$root/Cargo.lock")
have_version=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have_version" != "$lock_version" ]; then
  echo "error: wasm-bindgen-cli ${have_version:-is missing}; Cargo.lock has wasm-bindgen $lock_version" >&2
  echo "       cargo install wasm-bindgen-cli --version $lock_version" >&2
  exit 1
fi
[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund

# The bindings get wasm-bindgen's __wbg_reset_state: after a WebAssembly abort (a Rust panic) the
# entry point (js/harden.js) replaces the aborted instance with a fresh one.
bindgen() { # target (nodejs | web), output directory, input .wasm
  wasm-bindgen --target "$1" --out-dir "$2" --out-name tollgate --experimental-reset-state-function \
    --remove-name-section --remove-producers-section "$3"
  # The entry point keeps __wbg_reset_state to itself: the types do not offer it.
  sed -i '/^export function __wbg_reset_state(/d' "$2/tollgate.d.ts"
}

# Node's entry point: the bindings (tollgate.js), hardened, plus KeySource (js/keysource.js, a
# JWKS kept fresh with fetch, over the hardened Refresher; its types are js/keysource.d.ts).
node_entry() { # output directory
  {
    echo "'use strict';"
    echo "// Tollgate for Node: the wasm-bindgen bindings (tollgate.js), hardened (see harden), the"
    echo "// asynchronous paths (see addAsyncPaths), KeySource (see makeKeySource) and the store."
    cat js/harden.js js/webcrypto.js js/keysource.js js/store.js
    echo "const api = harden(require('./tollgate.js'));"
    echo "addAsyncPaths(api);"
    echo "api.KeySource = makeKeySource(api);"
    echo "Object.assign(api, makeStore(api));"
    echo "module.exports = api;"
  } > "$1/index.js"
  printf "export * from './tollgate';\nexport * from './keysource';\nexport * from './store';\n" > "$1/index.d.ts"
  cp js/keysource.d.ts "$1/keysource.d.ts"
  cp js/store.d.ts "$1/store.d.ts"
}

if [ -n "$faults" ]; then
  echo "== cargo build (wasm32-unknown-unknown, debug, --features fault-injection)"
  cargo build -p tollgate-wasm --locked --target wasm32-unknown-unknown --features fault-injection
  rm -rf pkg-faults
  mkdir -p pkg-faults/node
  bindgen nodejs pkg-faults/node "${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/debug/tollgate_wasm.wasm"
  node_entry pkg-faults/node
  echo '{ "name": "tollgate-node-faults", "private": true, "type": "commonjs", "main": "index.js" }' \
    > pkg-faults/node/package.json
  echo "== pkg-faults/node: for test/panic.test.mjs only (fault injection on)"
  exit 0
fi

# A size-tuned profile of our own (the workspace's release profile plus opt-level "z"), given on
# the command line so that the workspace manifest stays as it is; its output directory is its own.
echo "== cargo build (wasm32-unknown-unknown, size profile)"
cargo build -p tollgate-wasm --locked --target wasm32-unknown-unknown \
  --config 'profile.wasm-size.inherits="release"' \
  --config 'profile.wasm-size.opt-level="z"' \
  --profile wasm-size
wasm="${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/wasm-size/tollgate_wasm.wasm"

exports_of() {
  # The values (classes and functions) a generated .d.ts exports, for the ES entry point to
  # re-export; its index.d.ts re-exports the types.
  # (not wasm-bindgen's own __ names, which the entry point keeps to itself).
  sed -n -E 's/^export (declare )?(class|function) ([A-Za-z_][A-Za-z0-9_]*).*/\3/p' "$1" | grep -v '^__' | sort -u
}

optimise() {
  node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-multivalue --enable-reference-types "$1" -o "$2"
}

rm -rf pkg
for target in node web; do
  out="pkg/$target"
  mkdir -p "$out"
  echo "== wasm-bindgen --target $([ $target = node ] && echo nodejs || echo web) -> $out"
  bindgen "$([ $target = node ] && echo nodejs || echo web)" "$out" "$wasm"
  # Both targets get the same .wasm (only the JS glue differs): optimise it once.
  if [ $target = web ] && cmp -s pkg/node/tollgate_bg.unoptimised.wasm "$out/tollgate_bg.wasm"; then
    cp pkg/node/tollgate_bg.wasm "$out/tollgate_bg.wasm"
  else
    echo "== wasm-opt -Oz ($target)"
    cp "$out/tollgate_bg.wasm" "$out/tollgate_bg.unoptimised.wasm"
    optimise "$out/tollgate_bg.unoptimised.wasm" "$out/tollgate_bg.wasm"
  fi

  if [ $target = node ]; then
    node_entry "$out"
    type=commonjs
  else
    names=$(exports_of "$out/tollgate.d.ts" | paste -sd, -)
    {
      echo "// Tollgate for edge runtimes (workerd, Deno, Vercel Edge): the wasm-bindgen bindings"
      echo "// (tollgate.js), hardened (see harden), with the asynchronous paths. Initialise once: \`await init()\` (fetches"
      echo "// tollgate_bg.wasm beside this file) or \`initSync({ module })\` with a compiled module."
      echo "import * as raw from './tollgate.js';"
      cat js/harden.js js/webcrypto.js js/keysource.js js/store.js
      echo "const api = harden(raw);"
      echo "addAsyncPaths(api);"
      echo "export const { ${names} } = api;"
      echo "export const KeySource = makeKeySource(api);"
      echo "export const { checkWithStore, RedisStore } = makeStore(api);"
      echo "export default api.default;"
    } > "$out/index.js"
    printf "export * from './tollgate.js';\nexport * from './keysource.js';\nexport * from './store.js';\nexport { default } from './tollgate.js';\n" > "$out/index.d.ts"
    cp js/keysource.d.ts "$out/keysource.d.ts"
    cp js/store.d.ts "$out/store.d.ts"
    type=module
  fi
  cat > "$out/package.json" <<JSON
{
  "name": "tollgate-$target",
  "version": "$(awk -F'"' '/^version = /{ print $2; exit }' "$root/Cargo.toml")",
  "description": "Tollgate token validation and policy engine (WebAssembly, $target)",
  "license": "Apache-2.0",
  "type": "$type",
  "main": "index.js",
  "types": "index.d.ts",
  "files": ["index.js", "index.d.ts", "keysource.d.ts", "store.d.ts", "tollgate.js", "tollgate.d.ts", "tollgate_bg.wasm", "tollgate_bg.wasm.d.ts"]
}
JSON
done

rm -f pkg/*/tollgate_bg.unoptimised.wasm
raw=$(wc -c < pkg/web/tollgate_bg.wasm)
gz=$(gzip -9 -c pkg/web/tollgate_bg.wasm | wc -c)
echo "$gz" > pkg/wasm-gzip-bytes
echo "== tollgate_bg.wasm: $raw bytes, $gz gzipped (gzip -9)"
