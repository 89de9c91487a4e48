#!/usr/bin/env bash
# wrap_faults (issue 17, acceptance 3 for mcptrail-wrap), with tests/sidecar/e2e/
# stdio-fault-server.mjs (it appends every call it executes to a ledger before acting) and a
# raw stdio client (stdio_driver.py):
#   - a crash mid-call: the client gets a JSON-RPC error (upstream_exited), the exit is
#     recorded, the wrapper exits with the server's status;
#   - a line that is not JSON, and a 100 MiB line: the server is stopped, the call answered;
#   - a policy deny: -32001, recorded as policy_denied, the server never sees it; a batch
#     with a denied call is refused whole;
#   - Kafka unreachable in strict mode: every call answered -32603 not_recorded, the server's
#     ledger stays empty;
#   - the GitHub Actions token request (against a local HTTPS stand-in with a test CA), and a
#     refused one: exit 2, no server started;
#   - kill -9 of the wrapper while calls flow: the server goes with it (PR_SET_PDEATHSIG) and
#     every call in its ledger has its request event on the topic (nothing unrecorded reached
#     it); in async mode a new wrapper on the same spool delivers what the killed one spooled.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
t0=$SECONDS
fail() { echo "wrap_faults FAIL: $*" >&2; exit 1; }
wrap_setup wrapfault "repo:acme/payments-api:ref:refs/heads/main" --upstream.stop_grace=2s \
  --upstream.max_line_bytes=1MiB
fault=("$node" "$root/tests/sidecar/e2e/stdio-fault-server.mjs")
driver="$here/stdio_driver.py"
[ -f "$driver" ] || driver="$root/tests/wrap/e2e/stdio_driver.py"
run() { # LEDGER N TOOL [wrapper options...]: stdio_driver calls through the wrapper
  local ledger=$1 n=$2 tool=$3; shift 3
  local w=("${wrap[@]:0:${#wrap[@]}-1}" "$@" --upstream.env="MT_FAULT_LEDGER=$ledger" --)
  python3 "$driver" calls "$n" "$tool" -- "${w[@]}" "${fault[@]}" 2>>"$tmp/wrap.log"
}

out=$(run "$tmp/l1" 1 crash)
jq -e '.answers[0].condition == "upstream_exited" and .exit == 3' <<<"$out" >/dev/null ||
  fail "crash: $out"
out=$(run "$tmp/l2" 1 garbage)
jq -e '.answers[0].condition == "upstream_exited"' <<<"$out" >/dev/null || fail "garbage: $out"
out=$(run "$tmp/l3" 1 huge)
jq -e '.answers[0].condition == "upstream_exited"' <<<"$out" >/dev/null || fail "huge line: $out"
grep -q 'stdout line longer than the limit' "$tmp/wrap.log" || fail "the huge line is not in the log"
echo '{"version":1,"default":"allow","rules":[{"id":"no-crash","action":"deny","match":{"tool":"crash"},"message":"crash is not allowed"}]}' >"$tmp/policy.json"
out=$(run "$tmp/l4" 2 crash --policy.file="$tmp/policy.json")
jq -e '.answers[0].code == -32001 and .answers[1].code == -32001 and .exit == 0' <<<"$out" >/dev/null ||
  fail "policy deny: $out"
[ ! -s "$tmp/l4" ] || fail "policy deny: the server ran it: $(cat "$tmp/l4")"
# a batch is decided as a whole: a denied call after an allowed ping refuses the line
w=("${wrap[@]:0:${#wrap[@]}-1}" --policy.file="$tmp/policy.json" --upstream.env="MT_FAULT_LEDGER=$tmp/l4b" --)
out=$(python3 "$driver" batch crash -- "${w[@]}" "${fault[@]}" 2>>"$tmp/wrap.log")
jq -e '(.batch | length) == 2 and ([.batch[].error.code] | unique) == [-32001] and ([.batch[].id] | sort) == ["b1","b2"]' \
  <<<"$out" >/dev/null || fail "policy deny in a batch: $out"
[ ! -s "$tmp/l4b" ] || fail "policy deny in a batch: the server ran it"
echo "e2e: crash, garbage, 100 MiB line answered with upstream_exited; policy deny never reached the server" >&2

dead=$(free_port)
out=$(run "$tmp/l5" 2 echo --kafka.brokers="127.0.0.1:$dead" --kafka.properties=message.timeout.ms=2000)
jq -e '.initialize.condition == "not_recorded" and .answers[0].condition == "not_recorded"' <<<"$out" \
  >/dev/null || fail "Kafka down: $out"
[ ! -s "$tmp/l5" ] || fail "Kafka down: the server ran calls: $(cat "$tmp/l5")"
echo "e2e: Kafka unreachable (strict): every call answered not_recorded, none reached the server" >&2

# GitHub Actions: the token requested from ACTIONS_ID_TOKEN_REQUEST_URL (a local HTTPS server
# with a test CA stands in for GitHub's), with the request token; a wrong request token is
# refused and the server never starts.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$tmp/gh.key" -out "$tmp/gh.csr" 2>/dev/null
openssl x509 -req -in "$tmp/gh.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 1 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out "$tmp/gh.pem" 2>/dev/null
gh_port=$(free_port)
cat >"$tmp/gh-oidc.py" <<'PY'
import http.server, json, ssl, sys, urllib.parse
port, cert, key, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], open(sys.argv[4]).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        ok = self.headers.get("Authorization") == "Bearer req-token-e2e" and q.get("audience") == ["mcptrail-wrap"]
        body = json.dumps({"value": token} if ok else {"message": "bad request token"}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
python3 "$tmp/gh-oidc.py" "$gh_port" "$tmp/gh.pem" "$tmp/gh.key" "$tmp/token" &
echo $! >"$MT_PEERS_RUN/gh-oidc.pid"
e2e_on_exit "kill \$(cat '$MT_PEERS_RUN/gh-oidc.pid')"
"$root/tests/sdk/wait-port.sh" "$gh_port" 20 "$(cat "$MT_PEERS_RUN/gh-oidc.pid")" /dev/null
gh() { # REQUEST_TOKEN LEDGER: one echo call with the GitHub token source
  ACTIONS_ID_TOKEN_REQUEST_URL="https://127.0.0.1:$gh_port/token?api-version=2.0" \
  ACTIONS_ID_TOKEN_REQUEST_TOKEN=$1 MCPTRAIL_ID_TOKEN= \
    python3 "$driver" calls 1 echo -- "${wrap_base[@]}" --identity.github_audience=mcptrail-wrap \
    --identity.ca_file="$tmp/ca.pem" --upstream.env="MT_FAULT_LEDGER=$2" -- "${fault[@]}" 2>>"$tmp/wrap.log"
}
out=$(gh req-token-e2e "$tmp/l7")
jq -e '.answers[0].text == "m1"' <<<"$out" >/dev/null || fail "GitHub token request: $out"
out=$(gh wrong-token "$tmp/l8")
jq -e '.initialize.eof and .exit == 2' <<<"$out" >/dev/null || fail "GitHub token refused: $out"
[ ! -s "$tmp/l8" ] || fail "GitHub token refused: the server ran"
grep -q 'GitHub Actions token request was refused (HTTP 403)' "$tmp/wrap.log" ||
  fail "the refused GitHub token request is not in the log"
echo "e2e: GitHub Actions token request: used; a refused request token starts no server" >&2

# kill -9 of the wrapper while calls flow (strict, then async with a spool)
kill9() { # NAME [wrapper options...]
  local name=$1; shift
  local w=("${wrap[@]:0:${#wrap[@]}-1}" "$@" --upstream.env="MT_FAULT_LEDGER=$tmp/$name.ledger" --)
  python3 "$driver" forever "$tmp/$name.pid" -- "${w[@]}" "${fault[@]}" >"$tmp/$name.out" 2>>"$tmp/wrap.log" &
  local drv=$!
  local i
  for i in $(seq 1 100); do
    [ -f "$tmp/$name.ledger" ] && [ "$(wc -l <"$tmp/$name.ledger")" -ge 20 ] && break
    sleep 0.1
  done
  local wpid
  wpid=$(cat "$tmp/$name.pid")
  tr '\0' ' ' </proc/"$wpid"/cmdline | grep -q mcptrail-wrap || fail "$name: pid $wpid is not the wrapper"
  local spid
  spid=$(awk 'END {print $3}' "$tmp/$name.ledger")
  kill -KILL "$wpid"
  wait "$drv" || true
  for i in $(seq 1 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$spid" 2>/dev/null || fail "$name: the server (pid $spid) outlived the killed wrapper"
  echo "e2e: $name: wrapper killed after $(wc -l <"$tmp/$name.ledger") executed calls; the server went with it" >&2
}
kill9 strict
kill9 async --record.mode=async --record.spool_dir="$tmp/spool"
# a new wrapper on the same spool delivers what the killed one spooled
out=$(run "$tmp/l6" 1 echo --record.mode=async --record.spool_dir="$tmp/spool")
jq -e '.answers[0].text == "m1"' <<<"$out" >/dev/null || fail "async restart: $out"

"$e2e_kafka" dump "$topic" "$tmp/raw" 3 3000 60000 > "$tmp/events.jsonl"
python3 - "$tmp/events.jsonl" "$tmp/strict.ledger" "$tmp/async.ledger" <<'PY' || fail "record check"
import collections, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
req = collections.Counter()
for e in ev:
    r = e.get("rpc") or {}
    if e["kind"] == "request" and r.get("method") == "tools/call" and e["direction"] == "client_to_server":
        req[(e["session_id"], r.get("id"))] += 1
calls_by_session = collections.Counter(s for s, _ in req)
for name in sys.argv[2:4]:
    ran = sum(1 for l in open(name) if l.startswith("CALL"))
    # the killed wrapper's session: the one with the most recorded calls of this ledger's size
    best = max(calls_by_session.values(), default=0)
    assert any(n >= ran for n in calls_by_session.values()), \
        f"{name}: the server ran {ran} calls, at most {best} recorded in one session"
exits = [e for e in ev if e["kind"] == "error" and "upstream_exit" in (e.get("payload_masked") or "")]
assert len(exits) >= 3, f"{len(exits)} upstream_exit events (crash, garbage, huge line)"
denied = [e for e in ev if e["kind"] == "policy_denied"]
assert len(denied) == 3 and all(d["policy"]["rule_id"] == "no-crash" for d in denied), denied
print(f"e2e: record: {len(ev)} events; every call the servers executed was recorded; "
      f"{len(exits)} upstream exits, {len(denied)} denials", file=sys.stderr)
PY
if grep -h -E "ERROR: [A-Za-z]*Sanitizer|runtime error:" "$tmp/wrap.log" >&2; then fail "sanitizer report"; fi
echo "wrap_faults: passed in $((SECONDS - t0)) s"
