# lib.sh: the chaos harness (issue 20), sourced by each scenario script.
#
# chaos_up starts, all on 127.0.0.1 and in the test's temp dir: a 3-node Kafka of its own
# (KRaft, topics RF 3, min.insync.replicas 2; scripts/kafka.sh), two strict sidecars in
# front of a real stdio MCP server each (tests/sidecar/e2e/stdio-fault-server.mjs, which
# appends every call it executes to one ledger file), and mcptrail-archiver on the events
# topic. chaos_load starts driver.py (SDK-shaped clients of MCP 2025-11-25 and 2026-07-28
# over both sidecars); the scenario then injects its faults; chaos_finish stops the load,
# waits until the archive holds every event of the topic, verifies it and runs check.py,
# which prints the scenario's row of docs/reliability.md and fails on a broken invariant.
#
# Env: MT_CHAOS_SECONDS (load per scenario, default 40), MT_CHAOS_ROUNDS (faults, 3),
# MT_CHAOS_THREADS (4), MT_CHAOS_KAFKA_BASE (port base of the 3 brokers, 19692),
# MT_CHAOS_ROWS (a directory that collects each scenario's row), the binaries as for
# the sidecar end-to-end tests (MT_SIDECAR_BIN, MT_DEVTOKEN_BIN, MT_E2E_KAFKA_BIN) and
# MT_ARCHIVER_BIN.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../sidecar/e2e/lib.sh"
chaos=$root/tests/chaos
archiver=${MT_ARCHIVER_BIN:-$root/build/consumers/archiver/mcptrail-archiver}
SECONDS_LOAD=${MT_CHAOS_SECONDS:-40}
ROUNDS=${MT_CHAOS_ROUNDS:-3}
THREADS=${MT_CHAOS_THREADS:-4}
node=$root/tests/peers/node_modules/.bin/node
ledger=$tmp/ledger
faults=0
fault_end=0
chaos_t0=$SECONDS

chaos_log() { echo "chaos $scenario: $*" >&2; }
chaos_fail() { echo "chaos $scenario FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }

# sidecar_start N: sidecar N (1 or 2) on its fixed port, strict, its own stdio server
sidecar_start() {
  local d="$tmp/sc$1"
  "$here/run-sidecar.sh" --upstream-port 1 --dir "$d" --topic mcptrail.events --mode strict \
    --port "${sc_port[$1]}" -- "--upstream.command=[\"$node\",\"$here/stdio-fault-server.mjs\"]" \
    --upstream.env="MT_FAULT_LEDGER=$ledger" --upstream.restart_backoff=50ms >/dev/null ||
    chaos_fail "sidecar $1 did not start (log $d/sidecar.log)"
}

archiver_start() {
  setsid "$archiver" run --archive.dir="$tmp/arch" --signing.key_file="$tmp/arch-key.pem" \
    --kafka.brokers="$MT_KAFKA_BROKERS" --group.id=chaos-archiver --topics=mcptrail.events \
    --segment.max_age=2s --heartbeat.interval=1s --log.level=warn \
    >>"$tmp/archiver.log" 2>&1 </dev/null &
  echo $! >"$tmp/archiver.pid"
  disown $! # no job notice from bash when a scenario kills it
}

archiver_stop() { # [KILL]: TERM (KILL after 10 s), or KILL at once
  local pid i
  pid=$(cat "$tmp/archiver.pid" 2>/dev/null) || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mcptrail-archiver; then
    kill -"${1:-TERM}" "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -f "$tmp/archiver.pid"
}

chaos_up() {
  e2e_need_peers
  command -v java >/dev/null || e2e_skip "java not found"
  e2e_on_exit "own_kafka stop"
  MT_KAFKA_BROKERS=$(MT_KAFKA_PORT_BASE=${MT_CHAOS_KAFKA_BASE:-19692} own_kafka start --nodes 3 \
    2>"$tmp/kafka-start.log" | tail -n 1) || chaos_fail "Kafka did not start: $(tail -3 "$tmp/kafka-start.log")"
  export MT_KAFKA_BROKERS
  : >"$ledger"
  sc_port=(0 "$(free_port)" "$(free_port)")
  while [ "${sc_port[2]}" = "${sc_port[1]}" ]; do sc_port[2]=$(free_port); done
  e2e_on_exit "'$here/stop-sidecar.sh' '$tmp/sc1'; '$here/stop-sidecar.sh' '$tmp/sc2'"
  sidecar_start 1
  mkdir -p "$tmp/sc2"
  cp -r "$tmp/sc1/keys" "$tmp/sc2/keys" # one issuer for both
  sidecar_start 2
  token=$("$here/token.sh" "$tmp/sc1" chaos-ci)
  "$archiver" keygen "$tmp/arch-key.pem" "$tmp/arch-pub.pem" >/dev/null
  e2e_on_exit "kill \$(cat '$tmp/archiver.pid') 2>/dev/null"
  archiver_start
  chaos_log "up in $((SECONDS - chaos_t0)) s: Kafka $MT_KAFKA_BROKERS, sidecars :${sc_port[1]} :${sc_port[2]}"
}

chaos_load() {
  rm -f "$tmp/stop"
  "$py" "$chaos/driver.py" --url "$(cat "$tmp/sc1/url"),$(cat "$tmp/sc2/url")" --token "$token" \
    --out "$tmp/results.jsonl" --stop "$tmp/stop" --threads "$THREADS" --seconds 900 \
    2>"$tmp/driver.log" &
  driver_pid=$!
  e2e_on_exit "touch '$tmp/stop'; kill $driver_pid 2>/dev/null"
}

# fault_lifted: one fault injected, and its end (the restart or resume starts) now
fault_lifted() {
  faults=$((faults + 1))
  fault_end=$(now)
}

# pause_random LO HI: sleeps a random time in [LO, HI) seconds (the faults' moments)
pause_random() { sleep "$(python3 -c "import random; print(random.uniform($1, $2))")"; }

chaos_finish() {
  # the rest of the load time, and at least 5 s of load after the last fault (recovery)
  local left=$((SECONDS_LOAD - (SECONDS - load_t0)))
  [ "$left" -ge 5 ] || left=5
  sleep "$left"
  touch "$tmp/stop"
  wait "$driver_pid" || true
  # every event of the topic in the archive, then a clean stop (segments closed)
  "$e2e_kafka" dump mcptrail.events "$tmp/raw.bin" 1 3000 120000 >"$tmp/events.jsonl" ||
    chaos_fail "cannot read the events topic"
  local want deadline=$((SECONDS + 90))
  want=$("$py" -c 'import json,sys; print(len({json.loads(l)["event_id"] for l in open(sys.argv[1]) if l.strip()}))' "$tmp/events.jsonl")
  while :; do
    "$archiver" ids "$tmp/arch" >"$tmp/ids.tsv" 2>/dev/null || true
    [ "$(cut -f4 "$tmp/ids.tsv" | sort -u | wc -l)" -ge "$want" ] && break
    [ $SECONDS -lt $deadline ] || break # check.py names what is missing
    sleep 1
  done
  archiver_stop TERM
  "$archiver" ids "$tmp/arch" >"$tmp/ids.tsv" || chaos_fail "cannot list the archive"
  "$archiver" verify "$tmp/arch" --pubkey "$tmp/arch-pub.pem" >"$tmp/verify.log" 2>&1 || true
  local row_args=()
  [ -z "${MT_CHAOS_ROWS:-}" ] || { mkdir -p "$MT_CHAOS_ROWS"; row_args=(--row "$MT_CHAOS_ROWS/$scenario.md"); }
  python3 "$chaos/check.py" --scenario "$scenario" --ledger "$ledger" --results "$tmp/results.jsonl" \
    --events "$tmp/events.jsonl" --archive-ids "$tmp/ids.tsv" --verify "$tmp/verify.log" \
    --allow "${ALLOW_PROBLEMS:-}" \
    --faults "$faults" --fault-end "$fault_end" "${row_args[@]}" || chaos_fail "invariants broken"
  chaos_log "passed in $((SECONDS - chaos_t0)) s"
}

# chaos_run: up, load, the scenario's inject function, finish
chaos_run() {
  chaos_up
  chaos_load
  load_t0=$SECONDS
  sleep 3 # calls flowing before the first fault
  inject
  chaos_finish
}
