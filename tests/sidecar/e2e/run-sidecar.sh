#!/usr/bin/env bash
# run-sidecar.sh: starts the real mcptrail-sidecar in front of an upstream MCP server on
# 127.0.0.1, with a development JWKS and an HMAC key, recording to $MT_KAFKA_BROKERS.
#
#   run-sidecar.sh --upstream-port P --dir DIR [--topic T] [--mode strict|async]
#                  [--spool DIR] [--port N] [--admin-port N] [--no-ready]
#                  [-- extra sidecar flags]
#
# DIR receives (created if missing): keys/ (mcptrail-devtoken keygen, reused if present),
# hmac.key, sidecar.log (appended), sidecar.pid, port, admin_port and url. Listen and
# admin ports are ephemeral unless --port is given; the ports are read back from the
# sidecar's "listening" log line. Waits (deadline MT_E2E_READY_S, default 30 s) for
# /readyz = 200 (--no-ready: /healthz only, e.g. while Kafka is down). Prints the MCP
# URL. Mint a token the sidecar accepts with `token.sh DIR [SUB]`; stop it with
# `stop-sidecar.sh DIR [--kill9]`.
#
# Binaries: MT_SIDECAR_BIN, MT_DEVTOKEN_BIN (default: build/ of the source tree).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
sidecar=${MT_SIDECAR_BIN:-$root/build/sidecar/mcptrail-sidecar}
devtoken=${MT_DEVTOKEN_BIN:-$root/build/tools/mcptrail-devtoken}
die() { echo "run-sidecar: $*" >&2; exit 1; }

up_port="" dir="" topic=mcptrail.events mode=strict spool="" port=0 aport_opt=0 ready=1 extra=()
while (($#)); do
  case "$1" in
    --upstream-port) up_port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --topic) topic=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --spool) spool=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --admin-port) aport_opt=$2; shift 2 ;;
    --no-ready) ready=0; shift ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done
[ -n "$up_port" ] && [ -n "$dir" ] || die "usage: run-sidecar.sh --upstream-port P --dir DIR [...]"
[ -n "${MT_KAFKA_BROKERS:-}" ] || die "MT_KAFKA_BROKERS is not set"
[ -x "$sidecar" ] || die "no sidecar binary at $sidecar (set MT_SIDECAR_BIN)"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -f "$dir/sidecar.pid" ] && kill -0 "$(cat "$dir/sidecar.pid")" 2>/dev/null; then
  die "a sidecar of $dir is already running (pid $(cat "$dir/sidecar.pid"))"
fi
if [ ! -f "$dir/keys/jwks.json" ]; then
  "$devtoken" keygen --out-dir "$dir/keys" >/dev/null
fi
[ -f "$dir/hmac.key" ] || head -c 32 /dev/urandom > "$dir/hmac.key"
chmod 600 "$dir/hmac.key"
[ "$mode" = async ] && [ -z "$spool" ] && spool="$dir/spool"
spool_args=()
[ -z "$spool" ] || { mkdir -p "$spool"; spool_args=(--record.spool_dir="$spool"); }

log="$dir/sidecar.log"
: >> "$log"
start_line=$(($(wc -l < "$log") + 1))
exec 3</dev/null
MT_SCHEMA_DIR=${MT_SCHEMA_DIR:-$root/schemas} setsid "$sidecar" \
  --kafka.brokers="$MT_KAFKA_BROKERS" \
  --listen.address=127.0.0.1 --listen.port="$port" \
  --admin.address=127.0.0.1 --admin.port="$aport_opt" \
  --upstream.host=127.0.0.1 --upstream.port="$up_port" \
  --auth.jwks_file="$dir/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
  --auth.audiences=mcptrail-e2e \
  --record.mode="$mode" --record.topic="$topic" "${spool_args[@]}" \
  --record.hmac_key_file="$dir/hmac.key" \
  --source.cluster=e2e --source.namespace=local --source.pod=e2e-sidecar \
  --log.format=json "${extra[@]}" >>"$log" 2>&1 <&3 &
pid=$!
echo "$pid" > "$dir/sidecar.pid"

deadline=$((SECONDS + ${MT_E2E_READY_S:-30}))
lport="" aport=""
while [ -z "$aport" ]; do
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; die "sidecar exited during start-up (log $log)"; }
  [ $SECONDS -lt $deadline ] || { tail -n 30 "$log" >&2; kill -KILL "$pid"; die "no 'listening' log line within the deadline"; }
  line=$(tail -n +"$start_line" "$log" | grep -m1 '"listening"' || true)
  if [ -n "$line" ]; then
    lport=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' <<<"$line")
    aport=$(sed -n 's/.*"admin_port":\([0-9]*\).*/\1/p' <<<"$line")
  else
    sleep 0.1 # poll interval for the start-up log line
  fi
done
echo "$lport" > "$dir/port"
echo "$aport" > "$dir/admin_port"
echo "http://127.0.0.1:$lport/mcp" > "$dir/url"
probe=/readyz; [ $ready = 1 ] || probe=/healthz
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$aport$probe")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; die "sidecar exited before $probe"; }
  [ $SECONDS -lt $deadline ] || { curl -s "http://127.0.0.1:$aport/readyz" >&2 || true; kill -KILL "$pid"; die "$probe not 200 within the deadline"; }
  sleep 0.2 # poll interval for readiness
done
cat "$dir/url"
