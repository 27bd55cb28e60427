# shellcheck shell=bash
# Generates the cluster CA, serving and client certificates, the service
# account key pair and the kubeconfigs. Sourced by hack/local-cluster.sh.

# pki_generate makes everything under PKI_DIR once; an existing CA is kept
# so kubeconfigs handed out earlier stay valid while the state exists.
pki_generate() {
  mkdir -p "$PKI_DIR"
  [[ -f "$PKI_DIR/ca.crt" ]] && return 0
  log "generating PKI in $PKI_DIR"
  (
    cd "$PKI_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$PROJECT-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    pki_cert apiserver "/CN=kube-apiserver" \
      "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP"
    pki_cert admin "/O=system:masters/CN=$PROJECT-admin" ""
    pki_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" \
      "subjectAltName=DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  )
}

# pki_cert NAME SUBJECT EXT signs NAME.crt/NAME.key with the cluster CA.
pki_cert() {
  local name=$1 subj=$2 ext=$3
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  if [[ -n "$ext" ]]; then
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile <(echo "$ext") -out "$name.crt" 2>/dev/null
  else
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -out "$name.crt" 2>/dev/null
  fi
  rm -f "$name.csr"
}

# kubeconfig_write NAME CERT writes STATE_DIR/NAME.kubeconfig for the client
# certificate CERT, with the certificates embedded so the file can be copied.
kubeconfig_write() {
  local name=$1 cert=$2 out="$STATE_DIR/$1.kubeconfig"
  cat >"$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $PROJECT
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$PKI_DIR/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI_DIR/$cert.key")
contexts:
- name: $PROJECT
  context:
    cluster: $PROJECT
    user: $name
current-context: $PROJECT
EOF
  chmod 600 "$out"
}
