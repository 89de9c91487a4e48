#!/usr/bin/env bash
# End-to-end test of the real mcptrail-injector binary: HTTPS on 127.0.0.1 with a
# certificate made here by openssl, the injection template the chart renders
# (tests/fixtures/admission/template.json; tests/helm checks it against `helm template`),
# and every AdmissionReview fixture POSTed by tests/injector/e2e_client.py, which applies
# each patch with python jsonpatch (as the API server would) and validates the patched pod
# with kubernetes-validate in strict mode. Also: the body bound (413), /healthz, a
# plain-HTTP client refused without harm, SIGHUP certificate reload, SIGTERM exit.
set -euo pipefail
root=${MT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${MT_INJECTOR_BIN:?MT_INJECTOR_BIN must name the mcptrail-injector binary}
py=${MT_PYTHON:-$HOME/.cache/mcptrail/venv/bin/python}
"$py" -c 'import jsonpatch, kubernetes_validate' 2>/dev/null || {
  echo "injector_e2e: jsonpatch/kubernetes-validate missing in $py (run scripts/deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mcptrail-injector.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A CA and a server certificate for 127.0.0.1, as the chart's generated pair would be.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=mcptrail-test-ca" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=mcptrail-injector" \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$work/ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 1 -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null

"$bin" --listen.address 127.0.0.1 --listen.port 0 --tls.cert_file "$work/tls.crt" \
  --tls.key_file "$work/tls.key" --limits.max_body_bytes 1MiB \
  --inject.template_file "$root/tests/fixtures/admission/template.json" \
  --inject.failure_mode fail 2>"$work/injector.log" &
pid=$!

port=""
for _ in $(seq 1 200); do   # wait for the "listening" line (deadline 20 s)
  port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$work/injector.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "injector exited:"; cat "$work/injector.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "injector did not start:"; cat "$work/injector.log"; exit 1; }
echo "injector_e2e: mcptrail-injector pid $pid on https://127.0.0.1:$port"

status=0
"$py" "$root/tests/injector/e2e_client.py" "https://127.0.0.1:$port" "$work/ca.crt" \
  "$root/tests/fixtures/admission" || status=1

# A rotated certificate is picked up on SIGHUP, and the webhook keeps serving.
cp "$work/tls.crt" "$work/tls.crt.old"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null
kill -HUP "$pid"
for _ in $(seq 1 100); do
  grep -q "TLS certificate reloaded" "$work/injector.log" && break; sleep 0.1
done
if grep -q "TLS certificate reloaded" "$work/injector.log" &&
   "$py" "$root/tests/injector/e2e_client.py" "https://127.0.0.1:$port" "$work/ca.crt" \
     "$root/tests/fixtures/admission" --only review-opt-in-label.json >/dev/null; then
  echo "ok   SIGHUP reloaded the certificate; reviews still answered"
else
  echo "FAIL SIGHUP reload"; status=1
fi

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
if [ "$rc" -ne 0 ]; then echo "FAIL injector exited $rc on SIGTERM"; status=1; fi
if grep -qi "AddressSanitizer\|runtime error" "$work/injector.log"; then
  echo "FAIL sanitizer report in the injector log:"; cat "$work/injector.log"; status=1
fi
[ "$status" -eq 0 ] && echo "injector_e2e: all checks passed" || { echo "injector_e2e: FAILED; log:"; tail -n 30 "$work/injector.log"; }
exit "$status"
