# shellcheck shell=bash
# The node's container runtime: containerd with its CRI plugin, the CNI
# bridge network and a locally built pause image (none can be pulled here).
# Sourced by hack/local-cluster.sh.

CNI_CONF_DIR="$STATE_DIR/cni/net.d"
CNI_BIN_DIR="${CNI_BIN_DIR:-/usr/lib/cni}"

# runtime_write_config writes containerd's and the CNI configuration.
runtime_write_config() {
  mkdir -p "$CNI_CONF_DIR" "$STATE_DIR/containerd" "$RUN_DIR"
  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and without it
  # runc fails every container with "can't get final child's PID from pipe".
  cat >"$STATE_DIR/containerd.toml" <<EOF
version = 2
root = "$STATE_DIR/containerd"
state = "$RUN_DIR/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
EOF
  cat >"$CNI_CONF_DIR/10-$PROJECT.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$PROJECT",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# runtime_network_up makes the bridge that CNI will use, with the node's
# address on it, and turns on forwarding through iptables for bridged pods.
runtime_network_up() {
  if ! ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    ip link add "$CNI_BRIDGE" type bridge
  fi
  ip addr replace "$NODE_IP/16" dev "$CNI_BRIDGE"
  ip link set "$CNI_BRIDGE" up
  # Service IPs that kube-proxy has not programmed yet must not leave the
  # machine through the default route: route them to the bridge, where they
  # fail, until kube-proxy's DNAT sends them to a pod.
  ip route replace "$SERVICE_CIDR" dev "$CNI_BRIDGE"
  sysctl_set net.ipv4.ip_forward 1
  if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    sysctl_set net.bridge.bridge-nf-call-iptables 1
  fi
}

# pause_image_tar writes a docker-archive of a static pause binary, built
# from hack/pause, so no registry or Docker engine is needed for the sandbox.
pause_image_tar() {
  local out="$IMAGE_CACHE/pause.tar"
  [[ -f "$out" ]] && { echo "$out"; return 0; }
  mkdir -p "$IMAGE_CACHE"
  local work
  work=$(mktemp -d)
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/rootfs/pause" ./hack/pause) \
    || die "building the pause binary failed"
  tar -C "$work/rootfs" --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" pause
  local layer_sha cfg cfg_sha
  layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/pause\"],\"User\":\"65535:65535\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer_sha\"]}}"
  cfg_sha=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  printf '%s' "$cfg" >"$work/$cfg_sha.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg_sha" "$PAUSE_IMAGE" >"$work/manifest.json"
  tar -C "$work" -cf "$out.tmp" manifest.json "$cfg_sha.json" layer.tar
  mv "$out.tmp" "$out"
  rm -rf "$work"
  echo "$out"
}

# image_import TAR loads a docker-archive or OCI tarball (`docker save`) into
# the kubelet's containerd namespace, where pods find it by its tag.
image_import() {
  local tar=$1
  [[ -f "$tar" ]] || die "no such image archive: $tar"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --no-unpack=false "$tar" >/dev/null \
    || die "importing $tar into containerd failed"
}

# sysctl_set KEY VALUE changes a kernel setting and remembers its old value
# the first time, so `down` can put it back.
sysctl_set() {
  local key=$1 value=$2 file old
  file="/proc/sys/${key//.//}"
  [[ -w "$file" ]] || return 0
  old=$(cat "$file")
  mkdir -p "$STATE_DIR/sysctl"
  [[ -f "$STATE_DIR/sysctl/$key" ]] || echo "$old" >"$STATE_DIR/sysctl/$key"
  [[ "$old" == "$value" ]] || echo "$value" >"$file"
}

# sysctl_remember KEY saves KEY's value before a component (the kubelet,
# kube-proxy) may change it, so `down` can put it back.
sysctl_remember() {
  local key=$1 file="/proc/sys/${1//.//}"
  [[ -r "$file" ]] || return 0
  mkdir -p "$STATE_DIR/sysctl"
  [[ -f "$STATE_DIR/sysctl/$key" ]] || cat "$file" >"$STATE_DIR/sysctl/$key"
}

# sysctl_restore_all puts back every value sysctl_set or sysctl_remember saved.
sysctl_restore_all() {
  local f key
  for f in "$STATE_DIR"/sysctl/*; do
    [[ -f "$f" ]] || continue
    key=$(basename "$f")
    cat "$f" >"/proc/sys/${key//.//}" 2>/dev/null || true
  done
}
