# shellcheck shell=bash
# Starts and stops the cluster's processes: etcd, the control plane,
# containerd, the kubelet, kube-proxy and the NetworkPolicy controller. Each
# runs in its own session with its PID in RUN_DIR, so `down` stops exactly
# what `up` started.
# Sourced by hack/local-cluster.sh.

COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
# ADDONS run beside COMPONENTS; `up` starts a missing one on a running
# cluster without restarting the rest.
ADDONS=(kube-router)

# start NAME CMD... runs CMD in the background, logging to LOG_DIR/NAME.log.
start() {
  local name=$1
  shift
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# alive PID tells whether PID runs; a zombie waiting to be reaped does not.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# running NAME tells whether the process recorded for NAME is alive.
running() {
  local pidfile="$RUN_DIR/$1.pid"
  [[ -f "$pidfile" ]] && alive "$(cat "$pidfile")"
}

# stop NAME... ends the processes recorded for NAMEs together: TERM, then
# KILL what still runs after 10 s.
stop() {
  local name pid pids=() i
  for name in "$@"; do
    [[ -f "$RUN_DIR/$name.pid" ]] || continue
    pid=$(cat "$RUN_DIR/$name.pid")
    rm -f "$RUN_DIR/$name.pid"
    alive "$pid" || continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for ((i = 0; i < 100; i++)); do
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# wait_for WHAT SECONDS CMD... retries CMD every 0.1 s until it succeeds.
wait_for() {
  local what=$1 seconds=$2 i
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$what did not come up within ${seconds}s (logs: $LOG_DIR)"
}

start_containerd() {
  start containerd containerd --config "$STATE_DIR/containerd.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
}

start_etcd() {
  start etcd "$K8S_BIN/etcd" --name "$NODE_NAME" --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
}

start_apiserver() {
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" --advertise-address "$NODE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI_DIR/ca.crt" \
    --tls-cert-file "$PKI_DIR/apiserver.crt" --tls-private-key-file "$PKI_DIR/apiserver.key" \
    --kubelet-client-certificate "$PKI_DIR/admin.crt" --kubelet-client-key "$PKI_DIR/admin.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI_DIR/sa.pub" --service-account-signing-key-file "$PKI_DIR/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --endpoint-reconciler-type lease
  wait_for kube-apiserver 60 kubectl --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz
}

start_controller_manager() {
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
    --authorization-kubeconfig "$KUBECONFIG_PATH" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$PKI_DIR/sa.key" \
    --root-ca-file "$PKI_DIR/ca.crt" \
    --cluster-signing-cert-file "$PKI_DIR/ca.crt" --cluster-signing-key-file "$PKI_DIR/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --kube-api-qps 200 --kube-api-burst 400 --profiling=false
}

start_scheduler() {
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
    --authorization-kubeconfig "$KUBECONFIG_PATH" --leader-elect=false \
    --kube-api-qps 200 --kube-api-burst 400 --profiling=false
}

start_kubelet() {
  mkdir -p "$STATE_DIR/kubelet" "$STATE_DIR/pod-logs"
  cat >"$STATE_DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI_DIR/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$PKI_DIR/kubelet.crt"
tlsPrivateKeyFile: "$PKI_DIR/kubelet.key"
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
podLogsDir: "$STATE_DIR/pod-logs"
resolvConf: /etc/resolv.conf
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
EOF
  sysctl_remember vm.overcommit_memory
  sysctl_remember kernel.panic
  sysctl_remember kernel.panic_on_oops
  start kubelet "$K8S_BIN/kubelet" --config "$STATE_DIR/kubelet-config.yaml" \
    --kubeconfig "$STATE_DIR/kubelet.kubeconfig" --root-dir "$STATE_DIR/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
}

start_proxy() {
  sysctl_remember net.ipv4.conf.all.route_localnet
  start kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig "$KUBECONFIG_PATH" \
    --hostname-override "$NODE_NAME" --cluster-cidr "$POD_CIDR" \
    --proxy-mode iptables --iptables-min-sync-period 0 \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --profiling=false
}

# start_netpol starts kube-router as the NetworkPolicy controller and waits
# until it has synced its caches and made its top-level chains. Only its
# firewall runs: the CNI bridge routes and kube-proxy serves Services. It
# needs the Node registered (it finds the node's pods by the node's
# address). No health, metrics or pprof port is opened. Policies apply to
# pods in filter-table chains KUBE-ROUTER-*, KUBE-POD-FW-* and KUBE-NWPLCY-*
# with ipsets KUBE-SRC-*/KUBE-DST-*; traffic from an address of the node
# itself (kubelet probes, the host calling pod IPs or Services) is always
# accepted. Its rules stay in force while it is stopped, unchanged.
start_netpol() {
  local log="$LOG_DIR/kube-router.log" from=0
  [[ -f "$log" ]] && from=$(stat -c %s "$log")
  start kube-router "$(kube_router_binary)" --kubeconfig "$KUBECONFIG_PATH" \
    --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-ipv4=true --enable-ipv6=false \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-port 0 --metrics-port 0 --iptables-sync-period 5m
  wait_for kube-router 60 netpol_started "$from"
}

# netpol_started OFFSET tells whether kube-router runs and logged, after
# OFFSET bytes of its log, that its policy sync loop started.
netpol_started() {
  running kube-router &&
    [[ "$(tail -c +"$(($1 + 1))" "$LOG_DIR/kube-router.log")" == *"Starting network policy controller full sync"* ]]
}

# ensure_netpol starts kube-router when it is not running, or runs a binary
# other than the one built now (its wrapper module's versions changed).
ensure_netpol() {
  local want exe
  want=$(kube_router_binary)
  if running kube-router; then
    exe=$(readlink "/proc/$(cat "$RUN_DIR/kube-router.pid")/exe" 2>/dev/null || true)
    [[ "$exe" == "$want" ]] && return 0
    log "restarting kube-router: it runs $exe, not $want"
    stop kube-router
  fi
  log "starting kube-router (NetworkPolicy controller)"
  start_netpol
}
