#!/usr/bin/env bash
# k8s_e2e (issue 19): the chart on a real cluster. scripts/k8s.sh brings up a
# single-node Kubernetes (real API server, scheduler, controllers, kubelet,
# containerd, kube-proxy); the project's images are built from the Release
# build and imported (scripts/k8s/images.sh); Kafka runs on the host, on the
# node interface the pods can reach. Then:
#   1. helm install --wait of helm/mcptrail (injector, archiver); the injector pod
#      is Ready and the API server calls its webhook;
#   2. a Deployment of the demo MCP server labelled for injection runs with the
#      sidecar the webhook added (stored Pod and running containers); a second
#      rollout gives pods with one sidecar, not two; a labelled pod in a namespace
#      the webhook does not select and an unlabelled pod are untouched; with the
#      injector scaled to zero the API server refuses a labelled pod
#      (failurePolicy Fail);
#   3. a client with a token calls the pod's sidecar and gets the tool's answer;
#      the events are on the topic with the pod's namespace and name; the
#      archiver StatefulSet writes them to its volume and `verify` passes there;
#   4. probes, securityContext, the Secret-mounted keys and the NetworkPolicy
#      objects are accepted by the API server (the pods run with them).
# Needs root (the cluster). Env: MT_SIDECAR_BIN... (the Release binaries' dir
# as MT_RELEASE_DIR), MT_DEVTOKEN_BIN, MT_E2E_KAFKA_BIN, MT_ARCHIVER_BIN;
# MT_K8S_KEEP=1 leaves the cluster up afterwards (for a look with
# `scripts/k8s.sh kubectl`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
rel=${MT_RELEASE_DIR:?MT_RELEASE_DIR: a Release build dir (its binaries go into the images)}
devtoken=${MT_DEVTOKEN_BIN:-$rel/tools/mcptrail-devtoken}
archiver=${MT_ARCHIVER_BIN:-$rel/consumers/archiver/mcptrail-archiver}
e2e_kafka=${MT_E2E_KAFKA_BIN:?MT_E2E_KAFKA_BIN}
helm=$(bash "$root/scripts/deps-helm.sh" | tail -n 1)
tmp=$(mktemp -d /tmp/mt-k8s-e2e.XXXXXX)
NODE_IP=10.213.255.1
KAFKA_BASE=${MT_K8S_KAFKA_PORT_BASE:-19592}
SOCK=/run/mcptrail-k8s/containerd.sock
cluster_started=0
t0=$SECONDS

log() { echo "k8s_e2e: $*" >&2; }
diag() {
  [ "$cluster_started" = 1 ] || return 0
  kc get pods -A -o wide >&2 2>/dev/null || true
  kc get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 25 >&2 || true
}
fail() { echo "k8s_e2e FAIL: $*" >&2; diag; exit 1; }
kc() { bash "$root/scripts/k8s.sh" kubectl "$@"; }
cleanup() {
  MT_KAFKA_STATE="$tmp/kafka" bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  if [ "$cluster_started" = 1 ] && [ -z "${MT_K8S_KEEP:-}" ]; then
    bash "$root/scripts/k8s.sh" down >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || fail "needs root (a real kubelet and containerd)"

# ---- the cluster, the images, Kafka ---------------------------------------------------
log "bringing up a new cluster (scripts/k8s.sh down, up)"
cluster_started=1
bash "$root/scripts/k8s.sh" down >/dev/null || fail "scripts/k8s.sh down"
bash "$root/scripts/k8s.sh" up >/dev/null || fail "scripts/k8s.sh up"
log "cluster up after $((SECONDS - t0)) s; building and importing the images"
bash "$root/scripts/k8s/images.sh" project "$SOCK" "$rel"
brokers=$(MT_KAFKA_HOST=$NODE_IP MT_KAFKA_STATE="$tmp/kafka" MT_KAFKA_PORT_BASE=$KAFKA_BASE \
  bash "$root/scripts/kafka.sh" start --nodes 1 | tail -n 1)
export MT_KAFKA_BROKERS=$brokers
log "Kafka at $brokers"

# ---- keys, namespaces, the archive volume ---------------------------------------------
"$devtoken" keygen --out-dir "$tmp/keys" >/dev/null
"$archiver" keygen "$tmp/archive-signing.pem" "$tmp/archive-signing.pub.pem" >/dev/null
for ns in mt-system mt-apps mt-plain; do kc create namespace "$ns" >/dev/null; done
kc -n mt-system create secret generic mt-archiver-signing \
  --from-file=signing.pem="$tmp/archive-signing.pem" >/dev/null
vol=/var/lib/mcptrail-k8s/volumes/archive
mkdir -p "$vol"
chown 10001:10001 "$vol"
kc apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: mt-local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: mt-archive}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: mt-local
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $vol, type: Directory}
EOF

# helm/mcptrail/examples/host-kafka.yaml, with this run's JWKS and brokers and archive
# segments that close within seconds
python3 - "$tmp/keys/jwks.json" "$brokers" > "$tmp/values.yaml" <<'EOF'
import json, sys
print(json.dumps({
    "kafka": {"brokers": sys.argv[2]},
    "sidecar": {"jwks": json.load(open(sys.argv[1]))},
    "archiver": {"config": {"archive.dir": "/var/lib/mcptrail/archive",
                            "signing.key_file": "/etc/mcptrail/keys/signing.pem",
                            "segment.max_age": "2s", "heartbeat.interval": "2s"}},
}, indent=1))
EOF

# ---- 1. helm install --wait --------------------------------------------------------------
log "helm install"
KUBECONFIG=/var/lib/mcptrail-k8s/admin.kubeconfig "$helm" install mt "$root/helm/mcptrail" \
  -n mt-system -f "$root/helm/mcptrail/examples/host-kafka.yaml" -f "$tmp/values.yaml" \
  --wait --timeout 5m >"$tmp/helm.log" 2>&1 ||
  { cat "$tmp/helm.log" >&2; fail "helm install --wait failed"; }
kc -n mt-system wait --for=condition=Ready pod -l app.kubernetes.io/component=injector --timeout=60s \
  >/dev/null || fail "injector pod not Ready"
log "1. helm install --wait: ok (injector Ready)"

# ---- 2. injection ------------------------------------------------------------------------
demo() { # NAME NAMESPACE INJECT-LABEL(true|none)
  local labels="app: $1"
  [ "$3" = true ] && labels="app: $1
        mcptrail.io/inject: \"true\""
  kc apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $2}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels:
        $labels
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001}
      containers:
        - name: server
          image: mcptrail.local/demo-mcp:dev
          imagePullPolicy: Never
          env: [{name: PORT, value: "3001"}]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
EOF
  kc -n "$2" rollout status "deploy/$1" --timeout=180s >/dev/null || fail "deploy/$1 in $2 did not roll out"
}
containers_of() { # NAMESPACE APP -> container names of its (newest) pod
  kc -n "$1" get pods -l "app=$2" --sort-by=.metadata.creationTimestamp \
    -o jsonpath='{range .items[-1:]}{range .spec.containers[*]}{.name}{" "}{end}{end}'
}
demo mcp mt-apps true
pod=$(kc -n mt-apps get pods -l app=mcp -o jsonpath='{.items[0].metadata.name}')
names=$(containers_of mt-apps mcp)
[[ " $names " == *" mcptrail-sidecar "* ]] || fail "stored pod $pod has no sidecar: $names"
running=$(kc -n mt-apps get pod "$pod" \
  -o jsonpath='{range .status.containerStatuses[*]}{.name}={.ready}{" "}{end}')
[[ "$running" == *"mcptrail-sidecar=true"* && "$running" == *"server=true"* ]] ||
  fail "pod $pod containers not both ready: $running"
ctr --address "$SOCK" -n k8s.io containers ls 2>/dev/null | grep -q 'mcptrail.local/sidecar:dev' ||
  fail "no running container of mcptrail.local/sidecar:dev in containerd"
log "2. pod $pod runs with the injected sidecar ($running)"

kc -n mt-apps rollout restart deploy/mcp >/dev/null
kc -n mt-apps rollout status deploy/mcp --timeout=180s >/dev/null || fail "second rollout"
names=$(containers_of mt-apps mcp)
[ "$(tr ' ' '\n' <<<"$names" | grep -c '^mcptrail-sidecar$')" = 1 ] ||
  fail "second rollout: containers $names (one sidecar expected)"
pod=$(kc -n mt-apps get pods -l app=mcp --field-selector=status.phase=Running \
  --sort-by=.metadata.creationTimestamp -o jsonpath='{.items[-1:].metadata.name}')
log "2. second rollout: one sidecar ($names)"

demo plain mt-plain true
[[ " $(containers_of mt-plain plain) " != *" mcptrail-sidecar "* ]] ||
  fail "a pod in an unselected namespace got the sidecar"
demo unlabelled mt-apps none
[[ " $(containers_of mt-apps unlabelled) " != *" mcptrail-sidecar "* ]] ||
  fail "an unlabelled pod got the sidecar"
log "2. unselected namespace and unlabelled pod untouched"

# ---- 3. a call through the sidecar, the events, the archive ------------------------------
ip=$(kc -n mt-apps get pod "$pod" -o jsonpath='{.status.podIP}')
token=$("$devtoken" mint --key "$tmp/keys/dev-ed25519.pem" --kid dev-ed25519 \
  --iss https://issuer.mcptrail.test --aud mcptrail-e2e --sub ci-deployer --ttl 600)
call="$root/tests/sidecar/e2e/mcp-call.sh"
sid=$(bash "$call" init "http://$ip:8080/mcp" "$token") || fail "initialize through the sidecar"
bash "$call" echo "http://$ip:8080/mcp" "$token" "$sid" 7 "hello-from-ci" || fail "tools/call echo"
log "3. tools/call through $pod's sidecar answered"
"$e2e_kafka" dump mcptrail.events "$tmp/raw.bin" 4 3000 60000 > "$tmp/events.jsonl" ||
  fail "no events on mcptrail.events"
python3 - "$tmp/events.jsonl" "$pod" <<'EOF' || fail "events do not name the pod"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pod = sys.argv[2]
mine = [e for e in evs if e["source"]["pod"] == pod]
assert mine, f"no event from pod {pod}: pods {sorted({e['source']['pod'] for e in evs})}"
assert all(e["source"]["namespace"] == "mt-apps" and e["source"]["cluster"] == "mt-e2e"
           for e in mine), "namespace or cluster wrong"
assert any("hello-from-ci" in json.dumps(e) for e in mine), "the echo call is not recorded"
print(f"k8s_e2e: {len(mine)} events from {pod} in mt-apps", file=sys.stderr)
EOF
grep -qF "$token" "$tmp/raw.bin" && fail "the raw token is in a topic record"
deadline=$((SECONDS + 90))
until ls "$vol"/*/ 2>/dev/null | grep -q . && find "$vol" -name '*manifest*' | grep -q .; do
  [ $SECONDS -lt $deadline ] || { ls -laR "$vol" >&2; fail "the archiver wrote no manifest"; }
  sleep 2
done
sleep 4
"$archiver" verify "$vol" --pubkey "$tmp/archive-signing.pub.pem" --schemas "$root/schemas" \
  > "$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log" >&2; fail "verify failed on the archiver's volume"; }
# every event of the pod is in the archive (ids: topic, partition, offset, event id)
"$archiver" ids "$vol" > "$tmp/ids.tsv" || fail "ids on the archiver's volume"
python3 - "$tmp/events.jsonl" "$tmp/ids.tsv" "$pod" <<'EOF' || fail "events of the pod missing from the archive"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = {l.split("\t")[3].strip() for l in open(sys.argv[2]) if l.count("\t") >= 3}
mine = [e["event_id"] for e in evs if e["source"]["pod"] == sys.argv[3]]
missing = [i for i in mine if i not in ids]
assert not missing, f"{len(missing)} of {len(mine)} events not archived, e.g. {missing[:3]}"
EOF
log "3. events name the pod, all archived; the archiver's volume verifies ($(tail -n 1 "$tmp/verify.log"))"

# ---- 4. objects the API server accepted ---------------------------------------------------
kc -n mt-apps get networkpolicy mt-mcptrail-sidecar >/dev/null || fail "no NetworkPolicy in mt-apps"
kc -n mt-apps get pod "$pod" -o jsonpath='{.spec.containers[?(@.name=="mcptrail-sidecar")].readinessProbe.httpGet.path}' |
  grep -q . || fail "the sidecar has no readiness probe"
kc -n mt-apps get pod "$pod" -o jsonpath='{.spec.containers[?(@.name=="mcptrail-sidecar")].securityContext.readOnlyRootFilesystem}' |
  grep -q true || fail "the sidecar's securityContext is not read-only root"
log "4. NetworkPolicy, probes and securityContext accepted and in force"

# ---- failurePolicy Fail with no injector ----------------------------------------------------
kc -n mt-system scale deploy/mt-mcptrail-injector --replicas=0 >/dev/null
kc -n mt-system wait --for=delete pod -l app.kubernetes.io/component=injector --timeout=90s \
  >/dev/null 2>&1 || true
if kc -n mt-apps run no-injector --image=mcptrail.local/demo-mcp:dev --image-pull-policy=Never \
  --labels=mcptrail.io/inject=true --restart=Never >"$tmp/refused.log" 2>&1; then
  fail "a labelled pod was created with the injector down (failurePolicy Fail)"
fi
grep -qi "webhook" "$tmp/refused.log" || { cat "$tmp/refused.log" >&2; fail "refused, but not by the webhook"; }
log "failurePolicy Fail: refused with the injector at zero ($(head -c 160 "$tmp/refused.log"))"
log "all passed in $((SECONDS - t0)) s"
