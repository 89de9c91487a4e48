#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, from pinned Go modules and
# Debian packages, for the chart's end-to-end test (issue 19):
#
#   scripts/k8s.sh up        build (cached) and start etcd, kube-apiserver,
#                            kube-controller-manager, kube-scheduler, containerd,
#                            kubelet and kube-proxy; wait for the node to be Ready;
#                            print the admin kubeconfig's path
#   scripts/k8s.sh down      stop what up started (by pid file), remove its pods'
#                            containers, the CNI bridge, its iptables chains, the
#                            node interface and the state dir (net.ipv4.ip_forward,
#                            which up turns on for the pods, stays on)
#   scripts/k8s.sh status    what runs
#   scripts/k8s.sh deps      only install the Debian packages and build the binaries
#                            (scripts/test.sh runs it before the tests)
#   scripts/k8s.sh kubectl ARGS...   kubectl with the admin kubeconfig
#
# Everything is named for the project: state in ${MT_K8S_STATE:-/var/lib/mcptrail-k8s},
# run files in /run/mcptrail-k8s, an interface mt-k8s0 (a bridge without ports) holding the node
# address (10.213.255.1; the API server, the kubelet and host services the pods
# reach bind there or to 127.0.0.1, never to the machine's own interfaces), the
# pod bridge mt-cni0 (pods 10.213.0.0/24), services 10.214.0.0/24, containerd
# on its own socket and root (it does not touch a system containerd).
#
# Binaries: scripts/k8s/build.sh (kube-* v1.37.2, etcd v3.7.3, built once into
# ${MT_CACHE:-~/.cache/mcptrail}); containerd, runc, the CNI plugins, umoci,
# iptables and conntrack from Debian. Images are imported by scripts/k8s/images.sh.
# Traps met on this kind of VM (PITFALLS): runc needs restrict_oom_score_adj;
# the kubelet needs cgroupfs and failCgroupV1=false on a cgroup v1 host and a
# non-loopback node IP; the API server refuses to advertise 127.0.0.1; it is
# stopped before etcd.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S=${MT_K8S_STATE:-/var/lib/mcptrail-k8s}
R=/run/mcptrail-k8s
NODE=mt-node
NODE_IF=mt-k8s0
NODE_IP=${MT_K8S_NODE_IP:-10.213.255.1}
POD_CIDR=10.213.0.0/24
SVC_CIDR=10.214.0.0/24
SVC_IP=10.214.0.1
BASE=${MT_K8S_PORT_BASE:-19500}
ETCD_PORT=$BASE ETCD_PEER=$((BASE + 1)) API_PORT=$((BASE + 2)) KUBELET_PORT=$((BASE + 3))
KUBELET_HEALTH=$((BASE + 4)) CM_PORT=$((BASE + 5)) SCHED_PORT=$((BASE + 6))
PROXY_METRICS=$((BASE + 7)) PROXY_HEALTH=$((BASE + 8))
SOCK=$R/containerd.sock
log() { echo "k8s: $*" >&2; }
die() { log "$*"; exit 1; }

bins() {
  local out
  out=$(bash "$HERE/k8s/build.sh")
  KBIN=$(sed -n 1p <<<"$out")
  EBIN=$(sed -n 2p <<<"$out")
}

deps() {
  local missing=""
  for c in containerd runc umoci iptables conntrack; do command -v "$c" >/dev/null || missing=1; done
  [ -x /usr/lib/cni/bridge ] || missing=1
  if [ -n "$missing" ]; then
    log "installing containerd runc containernetworking-plugins umoci iptables conntrack (Debian)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc \
      containernetworking-plugins umoci iptables conntrack >/dev/null
  fi
}

# start NAME CMD...: runs CMD in the background with its log in $S/log/NAME.log
start() {
  local name=$1
  shift
  if alive "$name"; then return 0; fi
  mkdir -p "$S/log" "$R"
  setsid "$@" >>"$S/log/$name.log" 2>&1 < /dev/null &
  echo $! > "$R/$name.pid"
  readlink -f "$(command -v "$1")" > "$R/$name.exe"
}

alive() {
  local pid
  pid=$(cat "$R/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] &&
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null | sed 's/ (deleted)$//')" = "$(cat "$R/$1.exe")" ]
}

stop_one() {
  local name=$1 pid i
  if alive "$name"; then
    pid=$(cat "$R/$name.pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$R/$name.pid" "$R/$name.exe"
}

# wait_for WHAT SECONDS CMD...
wait_for() {
  local what=$1 t=$2
  shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "$what not ready after ${t}s (logs: $S/log)"
    sleep 1
  done
}

kc() { "$KBIN/kubectl" --kubeconfig "$S/admin.kubeconfig" "$@"; }

node_if() {
  # a port-less bridge: this kernel has no dummy driver
  ip link show "$NODE_IF" >/dev/null 2>&1 || ip link add "$NODE_IF" type bridge
  ip link set "$NODE_IF" up
  ip -4 addr show dev "$NODE_IF" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/32" dev "$NODE_IF"
  # pods reach services and each other through the bridge; kube-proxy needs these
  # (bridge-nf-call-iptables goes back to its value at down; ip_forward stays on)
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.ipv4.ip_forward=1 >/dev/null 2>&1 || true
  local nf=/proc/sys/net/bridge/bridge-nf-call-iptables
  if [ -e "$nf" ]; then
    [ -f "$S/bridge-nf-call-iptables.before" ] || cat "$nf" > "$S/bridge-nf-call-iptables.before"
    echo 1 > "$nf" 2>/dev/null || true
  fi
}

configs() {
  mkdir -p "$S/cni/net.d" "$S/containerd" "$S/kubelet" "$R"
  cat > "$S/cni/net.d/10-mcptrail.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "mcptrail",
 "plugins": [
  {"type": "bridge", "bridge": "mt-cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$S/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  cat > "$S/containerd/config.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$R/containerd"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$R/containerd.sock.ttrpc"
[debug]
  address = "$R/containerd-debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$S/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "mcptrail.local/pause:1"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$R/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
EOF
  # no cluster DNS here: pods get the host's resolv.conf minus loopback servers
  grep -v '^nameserver 127\.' /etc/resolv.conf > "$S/kubelet/resolv.conf" 2>/dev/null || true
  cat > "$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTH
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $S/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $S/pki/kubelet.crt
tlsPrivateKeyFile: $S/pki/kubelet.key
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$SOCK
resolvConf: $S/kubelet/resolv.conf
podLogsDir: $S/pod-logs
failSwapOn: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
EOF
  cat > "$S/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
metricsBindAddress: 127.0.0.1:$PROXY_METRICS
healthzBindAddress: 127.0.0.1:$PROXY_HEALTH
hostnameOverride: $NODE
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
conntrack: {maxPerCore: 0}
nodePortAddresses: ["$NODE_IP/32"]
EOF
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (containerd, the kubelet, iptables)"
  deps
  bins
  mkdir -p "$S"
  # what the host had before this cluster, so that down removes only what came after
  [ -f "$S/host-before.json" ] || python3 "$HERE/k8s/netclean.py" snapshot "$S/host-before.json"
  node_if
  bash "$HERE/k8s/pki.sh" "$S" "$NODE_IP" "$API_PORT" "$NODE" "$SVC_IP"
  configs
  start etcd "$EBIN/etcd" --name mt --data-dir "$S/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "mt=http://127.0.0.1:$ETCD_PEER" --listen-metrics-urls "" --log-level warn
  wait_for etcd 60 "$EBIN/etcdctl" --endpoints "http://127.0.0.1:$ETCD_PORT" endpoint health
  local P=$S/pki
  start kube-apiserver "$KBIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --service-cluster-ip-range "$SVC_CIDR" --allow-privileged=true \
    --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" \
    --client-ca-file "$P/ca.crt" --authorization-mode Node,RBAC \
    --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --kubelet-client-certificate "$P/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$P/apiserver-kubelet-client.key" --kubelet-certificate-authority "$P/ca.crt" \
    --kubelet-preferred-address-types InternalIP --enable-aggregator-routing=true --profiling=false
  wait_for kube-apiserver 120 kc get --raw /readyz
  start kube-controller-manager "$KBIN/kube-controller-manager" \
    --kubeconfig "$S/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$S/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$S/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false \
    --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
    --cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range "$SVC_CIDR" --profiling=false
  start kube-scheduler "$KBIN/kube-scheduler" --kubeconfig "$S/scheduler.kubeconfig" \
    --authentication-kubeconfig "$S/scheduler.kubeconfig" --authorization-kubeconfig "$S/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false
  start containerd containerd --config "$S/containerd/config.toml"
  wait_for containerd 60 ctr --address "$SOCK" version
  bash "$HERE/k8s/images.sh" pause "$SOCK"
  start kubelet "$KBIN/kubelet" --config "$S/kubelet/config.yaml" --kubeconfig "$S/kubelet.kubeconfig" \
    --root-dir "$S/kubelet/root" --cert-dir "$S/kubelet/pki" --node-ip "$NODE_IP" \
    --hostname-override "$NODE"
  start kube-proxy "$KBIN/kube-proxy" --config "$S/kube-proxy.yaml"
  wait_for "node $NODE" 180 kc wait --for=condition=Ready "node/$NODE" --timeout=5s
  log "node $NODE Ready; kubeconfig $S/admin.kubeconfig"
  echo "$S/admin.kubeconfig"
}

down() {
  # pods first (their containers, network namespaces and CNI leases), then the
  # control plane in reverse order; the API server before etcd
  stop_one kubelet
  stop_one kube-proxy
  if alive containerd; then
    local t
    for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true
    done
    sleep 1
    for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr --address "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io containers delete "$t" >/dev/null 2>&1 || true
    done
  fi
  stop_one containerd
  stop_one kube-scheduler
  stop_one kube-controller-manager
  stop_one kube-apiserver
  stop_one etcd
  # what the pods and kube-proxy left in the host's network: chains, rules and
  # namespaces that came after up (netclean.py), the bridge, the node interface
  python3 "$HERE/k8s/netclean.py" clean "$S/host-before.json" || true
  ip link show mt-cni0 >/dev/null 2>&1 && ip link delete mt-cni0 || true
  ip link show "$NODE_IF" >/dev/null 2>&1 && ip link delete "$NODE_IF" || true
  [ -f "$S/bridge-nf-call-iptables.before" ] &&
    cat "$S/bridge-nf-call-iptables.before" > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
  # mounts the kubelet and containerd left (volumes, rootfs, shm) under S and R only
  { awk -v s="$S" -v r="$R" 'index($2, s "/") == 1 || $2 == s || index($2, r "/") == 1 || $2 == r {print $2}' \
      /proc/mounts || true; } | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # the kubelet links every container log from /var/log/containers (a fixed path)
  find /var/log/containers -maxdepth 1 -lname "$S/*" -delete 2>/dev/null || true
  rmdir /var/log/containers /var/log/pods 2>/dev/null || true   # when they were ours alone
  rm -rf "$S" "$R"
  log "down"
}

status() {
  local n
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    if alive "$n"; then echo "$n running (pid $(cat "$R/$n.pid"))"; else echo "$n stopped"; fi
  done
  if alive kube-apiserver; then bins; kc get nodes -o wide 2>/dev/null || true; fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  deps) deps; bins; echo "$KBIN" ;;
  kubectl) shift; bins; kc "$@" ;;
  *) echo "usage: scripts/k8s.sh up|down|status|deps|kubectl ARGS..." >&2; exit 2 ;;
esac
