# shellcheck shell=bash
# Stops every process the cluster started and removes what it left on the
# host: containers, mounts, network namespaces, iptables chains and ipsets,
# the bridge, cgroups, sysctl changes and its state directory. Safe to run
# at any time, also after the processes were killed without `down`.
# Sourced by hack/local-cluster.sh.

# Host paths the kubelet or CNI create on their own; `up` notes which did not
# exist before it, and teardown removes only those.
HOST_PATHS=(/var/lib/cni /var/log/containers /var/lib/kubelet /var/log/pods)

# host_paths_note records which HOST_PATHS are absent before the cluster runs.
host_paths_note() {
  local p
  mkdir -p "$STATE_DIR"
  : >"$STATE_DIR/created-paths"
  for p in "${HOST_PATHS[@]}"; do [[ -e "$p" ]] || echo "$p" >>"$STATE_DIR/created-paths"; done
}

teardown() {
  # kube-router first: it would put back the rules iptables_clean removes.
  stop kube-router
  stop kube-proxy kubelet
  containers_kill
  stop kube-scheduler kube-controller-manager
  stop kube-apiserver
  stop etcd containerd
  # Processes whose PID files were lost are found by the paths only ours use.
  pkill -KILL -f "^$K8S_BIN/" 2>/dev/null || true
  pkill -KILL -f "^$CACHE_ROOT/kube-router/" 2>/dev/null || true
  pkill -KILL -f "containerd --config $STATE_DIR/containerd.toml" 2>/dev/null || true
  mounts_remove
  iptables_clean
  ipsets_clean
  conntrack_flush
  ip link del "$CNI_BRIDGE" 2>/dev/null || true
  cgroups_remove
  if [[ -d "$STATE_DIR" ]]; then
    sysctl_restore_all
    if [[ -f "$STATE_DIR/created-paths" ]]; then
      local p
      while read -r p; do [[ -n "$p" ]] && rm -rf "$p"; done <"$STATE_DIR/created-paths"
    fi
    rm -rf "$STATE_DIR"
  fi
}

# containers_kill ends every container of this cluster's containerd and its
# shim. Shims outlive containerd, so they are found by its socket address.
containers_kill() {
  local shims pid
  shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true)
  for pid in $shims; do pkill -KILL -P "$pid" 2>/dev/null || true; done
  for pid in $shims; do kill -KILL "$pid" 2>/dev/null || true; done
}

# mounts_remove unmounts everything below the state directory and the pod
# network namespaces CNI made, deepest first.
mounts_remove() {
  local m
  while read -r m; do
    [[ -n "$m" ]] && umount -l "$m" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | grep -E "^($STATE_DIR|/run/netns/cni-|/var/run/netns/cni-)" | sort -r || true)
  rm -f /run/netns/cni-* /var/run/netns/cni-* 2>/dev/null || true
}

# iptables_clean removes the KUBE-* chains of the kubelet, kube-proxy and
# kube-router (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) and the CNI-*
# chains of the bridge plugin, with every rule that jumps to them.
iptables_clean() {
  local ipt table rules chains rule chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle; do
      rules=$("$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A .*(KUBE-|CNI-)' | grep -vE '^-A (KUBE-|CNI-)' || true)
      while read -r rule; do
        # iptables -S quotes comments; eval re-reads them as single words.
        [[ -n "$rule" ]] && eval "\"\$ipt\" -t \"\$table\" ${rule/-A/-D}" 2>/dev/null || true
      done <<<"$rules"
      chains=$("$ipt" -t "$table" -S 2>/dev/null | sed -n 's/^-N \(\(KUBE\|CNI\)-[^ ]*\)/\1/p' || true)
      for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in $chains; do "$ipt" -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

# ipsets_clean destroys kube-router's ipsets: KUBE-SRC-* and KUBE-DST-* of
# the policies and the TMP-* sets of an interrupted swap, each named by 16
# base32 characters (inet6: in front for IPv6). iptables_clean must run
# first: a set still used by a rule cannot be destroyed.
ipsets_clean() {
  command -v ipset >/dev/null || return 0
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-(SRC|DST)-|TMP-)[A-Z2-7]{16}$' || true); do
    ipset destroy "$set" 2>/dev/null || true
  done
}

# conntrack_flush drops the kernel's connection tracking entries to and
# from pod and Service addresses, so a new cluster reusing those addresses
# does not inherit NAT decisions of the old one.
conntrack_flush() {
  command -v conntrack >/dev/null || return 0
  conntrack -D -d "$SERVICE_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -s "$POD_CIDR" >/dev/null 2>&1 || true
}

# cgroups_remove removes the kubelet's kubepods cgroups in every hierarchy.
cgroups_remove() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d "$d" ]] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}
