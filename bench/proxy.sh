#!/usr/bin/env bash
# Proxy benchmark (issue 4): the same JSON-RPC tools/call load, loopback only,
# direct to an upstream, through nginx, through mcptrail-sidecar (async,
# strict, async with JWT auth) and through a peer MCP gateway (FastMCP's
# HTTP-to-HTTP proxy from PyPI), as one Markdown table; also writes the table
# into the "Proxy" section of docs/benchmarks.md.
#
#   bench/proxy.sh [--duration S] [--conns N] [--rate R] [--rate-runs N]
#                  [--rate-duration S] [--head] [--no-docs] [--no-peer]
#                  [--no-everything]
#
#   --duration S   seconds measured per closed-loop run (5), after 1 s warm-up
#   --conns N      connections (32), closed loop and fixed rate alike
#   --rate R       fixed-rate columns (1000 req/s): best p99 of --rate-runs (3)
#                  runs of --rate-duration (3) seconds each
#   --head         build the committed HEAD (git archive into a temp dir)
#                  instead of the work tree, e.g. while the tree is mid-edit
#
# Load: bench/proxy/loadgen (libevent, keep-alive, exact percentiles from all
# samples). Upstream: bench/proxy/upstream (libevent evhttp, fixed result).
# Builds Release in build-release/ (or $MT_BENCH_BUILD_DIR); starts a 1-node
# Kafka (scripts/kafka.sh, own state dir and port base) unless
# MT_KAFKA_BROKERS is set. Installs nginx-light (apt) and a venv with
# fastmcp (~/.cache/mcptrail/bench-venv) when missing. Every process it
# starts is stopped by PID; everything listens on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DUR=5 CONNS=32 RATE=1000 FR_RUNS=3 FR_DUR=3 HEAD=0 DOCS=1 PEER=1 EVERYTHING=1
FASTMCP_VERSION=4.2.3
while [ $# -gt 0 ]; do
  case $1 in
    --duration) DUR=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --rate-runs) FR_RUNS=$2; shift 2 ;;
    --rate-duration) FR_DUR=$2; shift 2 ;;
    --head) HEAD=1; shift ;;
    --no-docs) DOCS=0; shift ;;
    --no-peer) PEER=0; shift ;;
    --no-everything) EVERYTHING=0; shift ;;
    *) echo "usage: bench/proxy.sh [--duration S] [--conns N] [--rate R] [--head] [--no-docs] [--no-peer] [--no-everything]" >&2; exit 2 ;;
  esac
done
t_begin=$(date +%s)
log() { echo "proxy.sh: $*" >&2; }

run=$(mktemp -d /tmp/mcptrail-bench-proxy.XXXXXX)
pids=()
kafka_started=""
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ -n "$kafka_started" ]; then
    MT_KAFKA_STATE=$run/kafka bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- ports: a random base, skipping ports that are listening ----------------
next_port=$((10000 + RANDOM % 20000)) # below the ephemeral range (32768+)
alloc() { # VAR: sets VAR to the next free port (no subshell: the counter must advance)
  while ss -Htan 2>/dev/null | awk '{print $4}' | grep -q -E "[:.]$next_port\$"; do
    next_port=$((next_port + 1))
  done
  printf -v "$1" %s "$next_port"
  next_port=$((next_port + 1))
}

# ---- Kafka (in the background while building) -------------------------------
if [ -z "${MT_KAFKA_BROKERS:-}" ]; then
  alloc kbase; next_port=$((kbase + 2))
  log "starting a 1-node Kafka (port base $kbase)"
  ( MT_KAFKA_STATE=$run/kafka MT_KAFKA_PORT_BASE=$kbase \
      bash "$root/scripts/kafka.sh" start --nodes 1 >"$run/kafka.out" 2>"$run/kafka.err" ) &
  kafka_job=$!
  kafka_started=1
fi

# ---- build -------------------------------------------------------------------
if [ "$HEAD" = 1 ]; then
  src=$run/src; build=$run/build
  mkdir -p "$src"; git -C "$root" archive HEAD | tar -x -C "$src"
  rev="$(git -C "$root" rev-parse --short HEAD) (HEAD)"
else
  src=$root; build=${MT_BENCH_BUILD_DIR:-$root/build-release}
  rev="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- sidecar lib 2>/dev/null || echo '+work-tree')"
fi
log "building Release in $build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF >"$run/cmake.log" 2>&1 \
  || { cat "$run/cmake.log" >&2; exit 1; }
ninja -C "$build" mcptrail-sidecar mcptrail-devtoken >"$run/ninja.log" 2>&1 \
  || { tail -30 "$run/ninja.log" >&2; log "build failed (try --head while sidecar/ is mid-edit)"; exit 1; }
tools=$build/bench-proxy
mkdir -p "$tools"
for t in upstream loadgen startup; do
  cc -O2 -std=c11 -Wall -Wextra -o "$tools/$t" "$root/bench/proxy/$t.c" -levent -levent_pthreads -lpthread
done
SIDECAR=$build/sidecar/mcptrail-sidecar
DEVTOKEN=$build/tools/mcptrail-devtoken

# ---- nginx -------------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
  log "installing nginx-light"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >"$run/apt.log" 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >"$run/apt.log" 2>&1; }
  NGINX=/usr/sbin/nginx
fi

# ---- peer gateway: FastMCP (PyPI) in its own venv ---------------------------
VENV=${MT_CACHE:-$HOME/.cache/mcptrail}/bench-venv
if [ "$PEER" = 1 ] && ! "$VENV/bin/python" -c 'import fastmcp' 2>/dev/null; then
  log "installing fastmcp==$FASTMCP_VERSION into $VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "fastmcp==$FASTMCP_VERSION" >"$run/pip.log" 2>&1 \
    || { log "fastmcp install failed; no peer row"; PEER=0; }
fi

# ---- helpers -------------------------------------------------------------------
wait_http() { # URL PID: until any HTTP answer (deadline 30 s)
  for _ in $(seq 300); do
    curl -s -o /dev/null -m 1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || { log "process $2 exited early"; return 1; }
    sleep 0.1
  done
  log "no answer from $1"; return 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

rows=$run/rows.tsv   # name auth rps p50 p99 p999 err fr_p50 fr_p99 rss_idle rss_load
: >"$rows"
declare -A FR_P50 FR_P99 EPR
# measure NAME AUTH URL PID_FOR_RSS FIXED_RATE(0/1) [loadgen args...]
measure() {
  local name=$1 auth=$2 url=$3 rpid=$4 fixed=$5; shift 5
  local idle="" load="" out fr="" sampler=""
  if [ "$rpid" != - ]; then
    sleep 0.5; idle=$(rss_kb "$rpid")
    ( m=0; while kill -0 "$rpid" 2>/dev/null; do r=$(rss_kb "$rpid"); [ "${r:-0}" -gt "$m" ] && m=$r && echo "$m" >"$run/rss.max"; sleep 0.2; done ) &
    sampler=$!; pids+=("$sampler")
  fi
  log "$name: closed loop, ${M_CONNS:-$CONNS} connections, ${DUR}s"
  out=$("$tools/loadgen" --url "$url" -c "${M_CONNS:-$CONNS}" -d "$DUR" -w "${M_WARM:-1}" "$@" 2>"$run/lg.err") || true
  [ -s "$run/lg.err" ] && log "$name: $(head -c 300 "$run/lg.err")"
  if [ -n "$sampler" ]; then stop_pid "$sampler"; load=$(cat "$run/rss.max" 2>/dev/null || echo 0); rm -f "$run/rss.max"; fi
  if [ "$fixed" = 1 ]; then
    # best (lowest p99) of FR_RUNS short runs: the machine is shared, and a
    # background burst in one run would otherwise decide the added-latency row
    local k one
    for k in $(seq "$FR_RUNS"); do
      log "$name: fixed rate $RATE req/s, ${FR_DUR}s (run $k of $FR_RUNS)"
      one=$("$tools/loadgen" --url "$url" -c "$CONNS" -r "$RATE" -d "$FR_DUR" -w 0.5 "$@" 2>"$run/lg.err") || true
      [ -s "$run/lg.err" ] && log "$name (fixed rate): $(head -c 300 "$run/lg.err")"
      if [ -n "$one" ] && { [ -z "$fr" ] || awk -v a="$(kv p99_us "$one")" -v b="$(kv p99_us "$fr")" 'BEGIN {exit !(a < b)}'; }; then
        fr=$one
      fi
    done
  fi
  local frp50="" frp99=""
  if [ -n "$fr" ]; then
    frp50=$(kv p50_us "$fr"); frp99=$(kv p99_us "$fr")
    local frerr; frerr=$(kv err "$fr"); local frok; frok=$(kv ok "$fr")
    [ "${frerr:-0}" != 0 ] && log "$name (fixed rate): $frerr errors, $frok ok"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$auth" \
    "$(kv rps "$out")" "$(kv p50_us "$out")" "$(kv p99_us "$out")" "$(kv p999_us "$out")" \
    "$(kv err "$out")" "$frp50" "$frp99" "$idle" "$load" >>"$rows"
}

# ---- upstream ---------------------------------------------------------------------
alloc UP_PORT
"$tools/upstream" --port "$UP_PORT" >"$run/upstream.log" 2>&1 &
UP_PID=$!; pids+=("$UP_PID")
wait_http "http://127.0.0.1:$UP_PORT/mcp" "$UP_PID"
UP_URL=http://127.0.0.1:$UP_PORT/mcp

measure "direct: C upstream (bench/proxy/upstream)" "-" "$UP_URL" - 1

# ---- server-everything direct (realism row) ------------------------------------
if [ "$EVERYTHING" = 1 ] && [ -d "$root/tests/peers/node_modules/@modelcontextprotocol/server-everything" ]; then
  alloc EV_PORT
  if MT_PEERS_RUN=$run bash "$root/tests/sdk/start-everything.sh" "$EV_PORT" "$run/everything.pid" >/dev/null 2>&1; then
    EV_PID=$(cat "$run/everything.pid"); pids+=("$EV_PID")
    measure "direct: server-everything (Node)" "-" "http://127.0.0.1:$EV_PORT/mcp" "$EV_PID" 0 --init
    stop_pid "$EV_PID"
  else
    log "server-everything did not start; no row"
  fi
fi

# ---- nginx ------------------------------------------------------------------------------
alloc NG_PORT
mkdir -p "$run/nginx"
cat >"$run/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run/nginx/body;
  proxy_temp_path $run/nginx/proxy;
  fastcgi_temp_path $run/nginx/fastcgi;
  uwsgi_temp_path $run/nginx/uwsgi;
  scgi_temp_path $run/nginx/scgi;
  upstream mcp { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NG_PORT;
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
"$NGINX" -c "$run/nginx/nginx.conf" -p "$run/nginx" -e "$run/nginx/error.log" >"$run/nginx/out.log" 2>&1 &
NG_PID=$!; pids+=("$NG_PID")
wait_http "http://127.0.0.1:$NG_PORT/mcp" "$NG_PID"
measure "nginx $("$NGINX" -v 2>&1 | sed 's:.*nginx/::') (1 worker, keepalive upstream)" "-" \
  "http://127.0.0.1:$NG_PORT/mcp" - 1
stop_pid "$NG_PID"

# ---- Kafka ready ------------------------------------------------------------------
if [ -n "$kafka_started" ]; then
  wait "$kafka_job" || { cat "$run/kafka.err" >&2; log "Kafka did not start"; exit 1; }
  MT_KAFKA_BROKERS=$(tail -n 1 "$run/kafka.out")
fi
log "Kafka at $MT_KAFKA_BROKERS"

# ---- sidecar ----------------------------------------------------------------------------
head -c 32 /dev/urandom | base64 >"$run/hmac.key"
"$DEVTOKEN" keygen --out-dir "$run/keys" >/dev/null
ISS=https://issuer.bench.mcptrail.test AUD=mcptrail-bench
TOKEN=$("$DEVTOKEN" mint --key "$run/keys/dev-ed25519.pem" --iss "$ISS" --aud "$AUD" --sub bench --ttl 3600)
sc_args() { # MODE LISTEN ADMIN AUTH(anon|jwt) -> argv
  local a=(--listen.port "$2" --admin.port "$3" --upstream.host 127.0.0.1 --upstream.port "$UP_PORT"
    --kafka.brokers "$MT_KAFKA_BROKERS" --record.mode "$1" --record.spool_dir "$run/spool-$2"
    --record.hmac_key_file "$run/hmac.key" --log.level warn --mask.cache_dir "$run/mask-cache")
  if [ "$4" = jwt ]; then
    a+=(--auth.jwks_file "$run/keys/jwks.json" --auth.issuer "$ISS" --auth.audiences "$AUD")
  else
    a+=(--auth.anonymous=true)
  fi
  printf '%s\n' "${a[@]}"
}
sidecar_row() { # MODE AUTH
  local lp ap args pid hdr=()
  alloc lp; alloc ap; mkdir -p "$run/spool-$lp"
  mapfile -t args < <(sc_args "$1" "$lp" "$ap" "$2")
  "$SIDECAR" "${args[@]}" >"$run/sidecar-$lp.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_http "http://127.0.0.1:$ap/healthz" "$pid" || { tail -5 "$run/sidecar-$lp.log" >&2; return 0; }
  [ "$2" = jwt ] && hdr=(-H "Authorization: Bearer $TOKEN")
  local label="anonymous"; [ "$2" = jwt ] && label="JWT EdDSA (devtoken)"
  measure "mcptrail-sidecar $1" "$label" "http://127.0.0.1:$lp/mcp" "$pid" 1 "${hdr[@]}"
  # events recorded per request (the instance_start aside), from the admin metrics
  sleep 1
  local m; m=$(curl -s -m 2 "http://127.0.0.1:$ap/metrics")
  EPR["$1 $label"]=$(awk '/^mcptrail_events_produced_total / {p = $2} /^mcptrail_events_spooled_total / {s = $2}
    /^mcptrail_requests_total\{/ {r += $2} END {e = (s > p ? s : p); if (r > 0) printf "%.2f", (e - 1) / r}' <<<"$m")
  stop_pid "$pid"
  grep -m3 '"level":"error"' "$run/sidecar-$lp.log" >&2 || true
}
# Warm-up, not measured: the Kafka broker's JVM compiles its hot paths under the
# first load, and the first sidecar start compiles the masking database into the
# cache; without this the first measured row pays for both.
sidecar_warmup() {
  local lp ap args pid
  alloc lp; alloc ap; mkdir -p "$run/spool-$lp"
  mapfile -t args < <(sc_args async "$lp" "$ap" anon)
  "$SIDECAR" "${args[@]}" >"$run/sidecar-warmup.log" 2>&1 &
  pid=$!; pids+=("$pid")
  if wait_http "http://127.0.0.1:$ap/healthz" "$pid"; then
    log "warm-up: sidecar async, 5 s (not measured)"
    "$tools/loadgen" --url "http://127.0.0.1:$lp/mcp" -c "$CONNS" -d 5 -w 0 >/dev/null 2>&1 || true
  fi
  stop_pid "$pid"
}
sidecar_warmup
sidecar_row async anon
sidecar_row strict anon
sidecar_row async jwt

# start-up: exec to /healthz 200, median of 5 (async, anonymous)
starts=()
for i in 1 2 3 4 5; do
  alloc lp; alloc ap; mkdir -p "$run/spool-$lp"
  mapfile -t args < <(sc_args async "$lp" "$ap" anon)
  s=$("$tools/startup" "$ap" /healthz 5000 -- "$SIDECAR" "${args[@]}" 2>>"$run/startup.err") || s=""
  [ -n "$s" ] && starts+=("$s")
done
STARTUP=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')

# ---- peer gateway --------------------------------------------------------------------
if [ "$PEER" = 1 ]; then
  alloc PP
  "$VENV/bin/python" "$root/bench/proxy/fastmcp_proxy.py" "$UP_URL" "$PP" >"$run/fastmcp.log" 2>&1 &
  FM_PID=$!; pids+=("$FM_PID")
  if wait_http "http://127.0.0.1:$PP/mcp" "$FM_PID"; then
    fmv=$("$VENV/bin/python" -c 'import fastmcp; print(fastmcp.__version__)' 2>/dev/null || echo "$FASTMCP_VERSION")
    # 8 connections and 3 s of warm-up: its sessions take ~0.3 s each to set up
    M_CONNS=8 M_WARM=3 measure "FastMCP $fmv proxy (Python, create_proxy), c=8" "-" "http://127.0.0.1:$PP/mcp" "$FM_PID" 0 --init
  fi
  stop_pid "$FM_PID"
fi

# ---- table ---------------------------------------------------------------------------------
node_v=$(node --version 2>/dev/null || echo -)
header="bench/proxy.sh $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores $(uname -m), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average before run end $(cut -d' ' -f1-3 /proc/loadavg); mcptrail $rev; Kafka 1-node KRaft ${kafka_started:+(local) }at $MT_KAFKA_BROKERS; Node $node_v"
table=$(awk -F'\t' -v conns="$CONNS" -v rate="$RATE" -v dur="$DUR" '
  function ms(us) { return us == "" ? "-" : sprintf("%.2f", us / 1000) }
  function mb(kb) { return kb == "" ? "-" : sprintf("%.1f", kb / 1024) }
  NR == 1 { d50 = $8; d99 = $9 }
  { n[NR] = $0 }
  END {
    printf "| Target | Client auth | req/s (c=%d) | p50 ms | p99 ms | p99.9 ms | errors | p50 ms @%d/s | p99 ms @%d/s | added p50 / p99 ms @%d/s | RSS MiB idle / load |\n", conns, rate, rate, rate
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= NR; i++) {
      split(n[i], f, "\t")
      added = (i == 1 || f[8] == "") ? "-" : sprintf("%+.2f / %+.2f", (f[8] - d50) / 1000, (f[9] - d99) / 1000)
      rss = f[10] == "" ? "-" : mb(f[10]) " / " mb(f[11])
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], ms(f[4]), ms(f[5]), ms(f[6]), f[7], ms(f[8]), ms(f[9]), added, rss
    }
  }' "$rows")

# targets (issue 4)
get() { awk -F'\t' -v k="$1" -v c="${2:-}" 'index($1, k) == 1 && (c == "" || $2 == c) {print $0; exit}' "$rows"; }
rps_of() { get "$1" "${2:-}" | cut -f3; }
nginx_rps=$(rps_of "nginx"); async_row=$(get "mcptrail-sidecar async" anonymous); peer_rps=$(rps_of "FastMCP")
direct_p99=$(head -1 "$rows" | cut -f9)
targets=$(awk -v a="$(cut -f3 <<<"$async_row")" -v n="$nginx_rps" -v ap99="$(cut -f9 <<<"$async_row")" -v dp99="$direct_p99" \
  -v idle="$(cut -f10 <<<"$async_row")" -v st="$STARTUP" -v peer="$peer_rps" -v rate="$RATE" 'BEGIN {
  yn = "yes"; no = "**no**"
  printf "- async (anonymous) throughput >= nginx: %s (%d vs %d req/s)\n", (a >= n ? yn : no), a, n
  printf "- added p99 <= 1 ms at %d req/s (async, anonymous): %s (%+.2f ms: %.2f vs direct %.2f ms)\n", rate, ((ap99 - dp99) <= 1000 ? yn : no), (ap99 - dp99) / 1000, ap99 / 1000, dp99 / 1000
  printf "- idle RSS <= 10 MB (async): %s (%.1f MiB)\n", (idle <= 10240 ? yn : no), idle / 1024
  if (st != "") printf "- start-up <= 50 ms (exec to /healthz 200, median of 5): %s (%.1f ms)\n", (st <= 50 ? yn : no), st
  else print "- start-up: not measured (sidecar did not answer /healthz)"
  if (peer != "" && peer > 0) printf "- >= 10x the peer gateway throughput: %s (%.0fx)\n", (a >= 10 * peer ? yn : no), a / peer
  if (n > 0) printf "- async / nginx throughput ratio: %.2f\n", a / n
}')
for k in "async anonymous" "strict anonymous" "async JWT EdDSA (devtoken)"; do
  [ -n "${EPR[$k]:-}" ] && targets+=$'\n'"- events recorded per request (stateless: no Mcp-Session-Id), sidecar $k: ${EPR[$k]}"
done

notes="Load: bench/proxy/loadgen, JSON-RPC tools/call POST /mcp (about 130-byte body, ~90-byte JSON result), HTTP/1.1 keep-alive, 1 thread; closed loop with $CONNS connections for ${DUR} s after 1 s warm-up; fixed rate $RATE req/s over the same $CONNS connections, best p99 of $FR_RUNS runs of ${FR_DUR} s after 0.5 s warm-up (latency from the scheduled time when a request had to wait for a connection). Percentiles are exact over every request. Upstream: bench/proxy/upstream (libevent, 1 thread). nginx: access_log off. Sidecar: log.level warn, recording to Kafka (payload HMAC on); each call without Mcp-Session-Id is its own recorded session of two events (request, response: no session_end since the streams of issue 15; 3 before), and every event carries the sidecar's stream (instance id, seq, hash chain); async mode appends every event to the write-ahead spool (record.spool_sync_interval 100ms, the default). Payloads are masked by the masking engine (built-in detectors); mask.cache_dir is set, so only the first sidecar start of the run (an unmeasured 5 s warm-up that also warms the Kafka broker) compiles the detector database; the measured rows read it from the cache. server-everything and FastMCP rows initialize one MCP session per connection first. RSS: VmRSS 0.5 s after start (idle) and the maximum sampled during the closed-loop run (load). All processes share the machine's $(nproc) cores with the load generator."

echo "# $header"
echo
echo "$table"
echo
echo "$targets"
echo
echo "$notes"
log "done in $(( $(date +%s) - t_begin )) s"

if [ "$DOCS" = 1 ]; then
  section=$(printf '## Proxy (`bench/proxy.sh`)\n\nIssue 4. Last run: %s\n\n%s\n\nTargets (issue 4):\n\n%s\n\n%s\n' "${header#bench/proxy.sh }" "$table" "$targets" "$notes")
  printf '%s\n' "$section" | python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" Proxy
  log "wrote the Proxy section of docs/benchmarks.md"
fi
