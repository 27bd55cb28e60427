# shellcheck shell=bash
# Shared settings and helpers of the local cluster scripts. Every path the
# cluster writes is derived here, so `down` knows exactly what `up` made.

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
PROJECT=minifaas

# Binaries are cached outside the repo, keyed by version, and shared by clones.
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/$PROJECT"
K8S_CACHE="$CACHE_ROOT/k8s/$K8S_VERSION"
K8S_BIN="$K8S_CACHE/bin"
IMAGE_CACHE="$CACHE_ROOT/images"

# Runtime state of the one local cluster on this machine.
STATE_DIR="${LOCAL_CLUSTER_STATE:-/var/lib/$PROJECT-cluster}"
PKI_DIR="$STATE_DIR/pki"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
KUBECONFIG_PATH="$STATE_DIR/admin.kubeconfig"
ENVTEST_DIR="$K8S_CACHE/envtest"

NODE_NAME="${NODE_NAME:-$PROJECT-node}"
POD_CIDR="10.88.0.0/16"
SERVICE_CIDR="10.96.0.0/16"
KUBERNETES_SVC_IP="10.96.0.1"
CLUSTER_DNS_IP="10.96.0.10"
CNI_BRIDGE="mfcni0"
# The node's address is the CNI bridge's gateway address, made by `up`, so
# pods reach the API server through the kubernetes Service whatever the host
# network looks like.
NODE_IP="10.88.0.1"
APISERVER_PORT=6443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
CONTAINERD_SOCK="$RUN_DIR/containerd.sock"
PAUSE_IMAGE="localhost/$PROJECT/pause:3.10"

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
