#!/usr/bin/env bash
# Certificates and kubeconfigs of the scripts/k8s.sh cluster, made once per
# state dir with openssl: one CA (mcptrail-k8s-ca), the API server's serving
# certificate, the service-account key pair, the kubelet's serving
# certificate and a client certificate per component (its user and group are
# what RBAC sees).
#
#   pki.sh STATE_DIR NODE_IP API_PORT NODE_NAME SERVICE_IP
set -euo pipefail
S=$1 NODE_IP=$2 API_PORT=$3 NODE=$4 SVC_IP=$5
P="$S/pki"
mkdir -p "$P"
umask 077
# made once: the last file written marks a complete set (an interrupted run starts over)
[ -s "$S/kube-proxy.kubeconfig" ] && exit 0
rm -rf "${P:?}"/*

openssl genrsa -out "$P/ca.key" 2048 2>/dev/null
openssl req -x509 -new -key "$P/ca.key" -sha256 -days 30 -subj "/CN=mcptrail-k8s-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$P/ca.crt" 2>/dev/null

# NAME CN O EKU [SAN]
cert() {
  local name=$1 cn=$2 org=$3 eku=$4 san=${5:-}
  local subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl genrsa -out "$P/$name.key" 2048 2>/dev/null
  openssl req -new -key "$P/$name.key" -subj "$subj" -out "$P/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$P/$name.ext"
  openssl x509 -req -in "$P/$name.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$P/$name.ext" -out "$P/$name.crt" 2>/dev/null
  rm -f "$P/$name.csr" "$P/$name.ext"
}

cert apiserver kube-apiserver "" serverAuth \
  "IP:$NODE_IP,IP:$SVC_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
cert kubelet "$NODE" "" serverAuth "IP:$NODE_IP,DNS:$NODE"
cert admin mcptrail-admin system:masters clientAuth
cert controller-manager system:kube-controller-manager "" clientAuth
cert scheduler system:kube-scheduler "" clientAuth
cert kubelet-client "system:node:$NODE" system:nodes clientAuth
cert kube-proxy system:kube-proxy "" clientAuth
openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null

# kubeconfig NAME CERT: a kubeconfig for the client certificate CERT
kubeconfig() {
  local name=$1 c=$2
  cat > "$S/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mcptrail
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority: $P/ca.crt
users:
- name: $name
  user:
    client-certificate: $P/$c.crt
    client-key: $P/$c.key
contexts:
- name: mcptrail
  context: {cluster: mcptrail, user: $name}
current-context: mcptrail
EOF
}
kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
kubeconfig kubelet kubelet-client
kubeconfig kube-proxy kube-proxy
