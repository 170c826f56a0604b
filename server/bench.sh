#!/usr/bin/env bash
# The forward-auth service's benchmark (a script, not a test). On this machine, side by side, wrk
# against:
#   1. an empty hyper handler (server/examples/empty_hyper.rs: the same runtime and HTTP settings);
#   2. tollgate serve directly (/auth/forward), HS256 and ES256 tokens, cache on and off;
#   3. nginx -> upstream (the empty handler), no auth;
#   4. nginx + auth_request -> tollgate serve (examples/nginx/tollgate.conf) -> the same upstream;
# then prints a Markdown table of requests/s and p99 latency with two ratios: the service's cost
# over the empty handler (target <= 1.5x for a cached or HS256 decision) and what auth adds to
# nginx (target <= 2x the plain proxy, the floor of a subrequest).
#
# Usage: server/bench.sh [SECONDS per run, default 5]   (needs wrk and nginx: apt-get install wrk nginx)
# Environment: REPEAT (runs per setup, the best reported; default 3), CONNS (default 32), THREADS
# (wrk threads, default 1), WORKERS (server threads, default 1), NGINX_WORKERS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install wrk nginx)" >&2; exit 2; }
done

echo "building (release) ..." >&2
cargo build --release --quiet -p tollgate-cli
cargo build --release --quiet -p tollgate-server --example empty_hyper
TOLLGATE=target/release/tollgate
EMPTY=target/release/examples/empty_hyper

W=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "error: nothing listens on port $1" >&2; exit 1
}

NOW=1767225600
T=examples/tenant-path
HS_TOKEN=$(sed -n 's/^ *"alice": "\(.*\)",\{0,1\}$/\1/p' "$T/scenarios.json" | head -1)

# An ES256 provider for the benchmark: a fresh key, a one-route policy, a token.
$TOLLGATE keygen --alg ES256 --out "$W/es" >/dev/null
KID=$(sed -n 's/^ *"kid": "\(.*\)",$/\1/p' "$W/es.pub.jwk")
cat > "$W/es-policy.json" <<JSON
{"version": 1, "name": "bench-es256",
 "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
 "providers": [{"name": "idp", "credentials": ["bearer"], "issuers": ["https://idp.bench"],
                "algorithms": ["ES256"], "roles": [{"claim": "roles", "shape": "list"}]}],
 "permissions": ["items:read"], "roles": [{"name": "reader", "grants": ["items:read"]}],
 "routes": [{"method": "GET", "path": "/api/items", "requires": ["items:read"]}],
 "forward_headers": {"subject": "x-user-id", "roles": "x-roles"}}
JSON
printf '{"keys": {"idp": %s}}\n' "$(cat "$W/es.pub.jwk")" > "$W/es-snapshot.json"
ES_TOKEN=$($TOLLGATE mint --alg ES256 --key "$W/es.key" --kid="$KID" --claim sub=alice \
  --claim iss=https://idp.bench --claim 'roles=["reader"]' --ttl 3600 --now $NOW)

rows=()
# run NAME URL [wrk -H args...]: the best of REPEAT wrk runs (the machine is shared: the best run is
# the one least disturbed); appends "name|rps|p99ms" to rows.
run() {
  local name=$1 url=$2; shift 2
  local out rps p99 unit value best_rps=0 best_p99=0
  for _ in $(seq "$REPEAT"); do
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
    if echo "$out" | grep -q "Non-2xx"; then
      echo "error: $name got non-2xx answers:" >&2; echo "$out" >&2; exit 1
    fi
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    read -r value unit < <(echo "$out" | awk '/^ +99%/ {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v); print v, u}')
    case $unit in
      us) p99=$(awk -v v="$value" 'BEGIN {printf "%.3f", v/1000}') ;;
      s) p99=$(awk -v v="$value" 'BEGIN {printf "%.3f", v*1000}') ;;
      *) p99=$value ;;
    esac
    if awk -v a="$rps" -v b="$best_rps" 'BEGIN {exit !(a > b)}'; then
      best_rps=$rps; best_p99=$p99
    fi
  done
  rows+=("$name|$best_rps|$best_p99")
  echo "$name: $best_rps req/s, p99 $best_p99 ms" >&2
}

stop_last() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; }
serve() { # serve PORT POLICY KEYS [flags...]
  local port=$1 policy=$2 keys=$3; shift 3
  $TOLLGATE serve --listen "127.0.0.1:$port" --policy "$policy" --keys "$keys" --now $NOW \
    --workers "$WORKERS" --log-level warn "$@" 2>>"$W/serve.log" &
  pids+=($!)
  wait_port "$port"
}

$EMPTY 127.0.0.1:18081 "$WORKERS" & pids+=($!)
wait_port 18081
run "1. empty hyper handler" http://127.0.0.1:18081/

FWD=(-H "X-Forwarded-Method: GET")
serve 18180 "$T/policy.json" "$T/snapshot.json"
run "2. tollgate serve, HS256, cache on" http://127.0.0.1:18180/auth/forward "${FWD[@]}" \
  -H "X-Forwarded-Uri: /api/tenants/A/items" -H "token: $HS_TOKEN"
serve 18181 "$T/policy.json" "$T/snapshot.json" --no-cache
run "2. tollgate serve, HS256, cache off" http://127.0.0.1:18181/auth/forward "${FWD[@]}" \
  -H "X-Forwarded-Uri: /api/tenants/A/items" -H "token: $HS_TOKEN"
stop_last
serve 18182 "$W/es-policy.json" "$W/es-snapshot.json"
run "2. tollgate serve, ES256, cache on" http://127.0.0.1:18182/auth/forward "${FWD[@]}" \
  -H "X-Forwarded-Uri: /api/items" -H "Authorization: Bearer $ES_TOKEN"
stop_last
serve 18183 "$W/es-policy.json" "$W/es-snapshot.json" --no-cache
run "2. tollgate serve, ES256, cache off" http://127.0.0.1:18183/auth/forward "${FWD[@]}" \
  -H "X-Forwarded-Uri: /api/items" -H "Authorization: Bearer $ES_TOKEN"
stop_last

# nginx: the shipped site (auth_request -> the HS256 service above, cache on) and a plain proxy,
# both in front of the empty handler.
mkdir -p "$W/nginx"
sed -e 's/server 127.0.0.1:9180;/server 127.0.0.1:18180;/' \
    -e 's/server 127.0.0.1:8081;/server 127.0.0.1:18081;/' \
    -e 's/listen 8080;/listen 127.0.0.1:18083;/' examples/nginx/tollgate.conf > "$W/nginx/tollgate.conf"
cat > "$W/nginx/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/nginx/body; proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi; uwsgi_temp_path $W/nginx/uwsgi; scgi_temp_path $W/nginx/scgi;
  upstream plain_api { server 127.0.0.1:18081; keepalive 32; }
  server {
    listen 127.0.0.1:18082;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://plain_api; }
  }
  include $W/nginx/tollgate.conf;
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" -g "daemon off; pid $W/nginx/nginx.pid;" &
pids+=($!)
wait_port 18082
wait_port 18083
run "3. nginx -> upstream, no auth" http://127.0.0.1:18082/api/tenants/A/items
run "4. nginx + auth_request -> tollgate serve (HS256)" http://127.0.0.1:18083/api/tenants/A/items \
  -H "token: $HS_TOKEN"

field() { echo "${rows[$1]}" | cut -d'|' -f"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
echo
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, best of $REPEAT; servers: $WORKERS worker thread(s), nginx $NGINX_WORKERS worker(s); $(nproc) cores"
echo
echo "| setup | requests/s | p99 (ms) | vs. its floor (throughput, p99) |"
echo "| --- | ---: | ---: | --- |"
base_rps=$(field 0 2); base_p99=$(field 0 3)
plain_rps=$(field 5 2); plain_p99=$(field 5 3)
for i in "${!rows[@]}"; do
  name=$(field "$i" 1); rps=$(field "$i" 2); p99=$(field "$i" 3)
  case $i in
    1|2|3|4) vs="$(ratio "$base_rps" "$rps")x, $(ratio "$p99" "$base_p99")x the empty handler" ;;
    6) vs="$(ratio "$plain_rps" "$rps")x, $(ratio "$p99" "$plain_p99")x the plain proxy" ;;
    *) vs="floor" ;;
  esac
  echo "| $name | $rps | $p99 | $vs |"
done
