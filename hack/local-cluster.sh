#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, built from Kubernetes source:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
# kubelet, kube-proxy and kube-router enforcing NetworkPolicies, for the
# tests, CI and the demo.
#
#   hack/local-cluster.sh up               start (idempotent; recovers from killed processes)
#   hack/local-cluster.sh down             stop what up started and remove its state
#   hack/local-cluster.sh status           show the processes and the node
#   hack/local-cluster.sh kubeconfig       print the admin kubeconfig path
#   hack/local-cluster.sh load-image TAR   import a `docker save` archive into the node
#   hack/local-cluster.sh envtest          build etcd + kube-apiserver, print KUBEBUILDER_ASSETS
#   hack/local-cluster.sh bin              build the binaries, print their directory (kubectl is there)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here="$REPO_ROOT/hack/cluster"
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=cluster/deps.sh
source "$here/deps.sh"
# shellcheck source=cluster/build.sh
source "$here/build.sh"
# shellcheck source=cluster/pki.sh
source "$here/pki.sh"
# shellcheck source=cluster/runtime.sh
source "$here/runtime.sh"
# shellcheck source=cluster/components.sh
source "$here/components.sh"
# shellcheck source=cluster/teardown.sh
source "$here/teardown.sh"

export PATH="$K8S_BIN:$PATH"

# healthy tells whether every component runs and the API server answers.
healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
  kubectl --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz >/dev/null 2>&1
}

cmd_up() {
  local t0=$SECONDS
  deps_install
  etcd_build_binary
  k8s_build_binaries
  kube_router_build_binary
  if healthy; then
    ensure_netpol
    log "cluster already up; kubeconfig: $KUBECONFIG_PATH"
    return 0
  fi
  # Anything left from an earlier run whose processes were killed (a stopped
  # session, a crash) is cleared first, so up always starts from a clean node.
  teardown
  mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR"
  host_paths_note
  pki_generate
  kubeconfig_write admin admin
  kubeconfig_write kubelet kubelet
  runtime_write_config
  runtime_network_up
  start_containerd
  image_import "$(pause_image_tar)"
  start_etcd
  start_apiserver
  start_controller_manager
  start_scheduler
  start_kubelet
  start_proxy
  wait_for "node $NODE_NAME Ready" 120 \
    kubectl --kubeconfig "$KUBECONFIG_PATH" wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
  start_netpol
  wait_for "default service account" 60 \
    kubectl --kubeconfig "$KUBECONFIG_PATH" get serviceaccount default -n default
  log "cluster up in $((SECONDS - t0))s; kubeconfig: $KUBECONFIG_PATH"
}

cmd_status() {
  local c
  for c in "${COMPONENTS[@]}" "${ADDONS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(cat "$RUN_DIR/$c.pid"))"; else echo "$c: stopped"; fi
  done
  if healthy; then
    kubectl --kubeconfig "$KUBECONFIG_PATH" get nodes -o wide
  else
    echo "cluster: not healthy"
    return 1
  fi
}

cmd_envtest() {
  etcd_build_binary
  k8s_build_binaries
  mkdir -p "$ENVTEST_DIR"
  ln -sf "$K8S_BIN/etcd" "$ENVTEST_DIR/etcd"
  ln -sf "$K8S_BIN/kube-apiserver" "$ENVTEST_DIR/kube-apiserver"
  ln -sf "$K8S_BIN/kubectl" "$ENVTEST_DIR/kubectl"
  echo "$ENVTEST_DIR"
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    up) cmd_up ;;
    down) teardown; log "cluster down" ;;
    status) cmd_status ;;
    kubeconfig) echo "$KUBECONFIG_PATH" ;;
    load-image)
      [[ $# -ge 1 ]] || die "usage: $0 load-image TAR..."
      healthy || die "cluster is not up; run: $0 up"
      local t
      for t in "$@"; do image_import "$t"; done
      ;;
    envtest) cmd_envtest ;;
    bin) etcd_build_binary; k8s_build_binaries; echo "$K8S_BIN" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; [[ -z "$cmd" || "$cmd" == help ]] || exit 2 ;;
  esac
}

main "$@"
