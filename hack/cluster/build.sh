# shellcheck shell=bash
# Builds pinned Kubernetes and etcd binaries from the Go module proxy into a
# cache directory keyed by version, shared by every clone on this machine.
# Sourced by hack/local-cluster.sh; needs lib.sh.

# k8s_build_binaries builds kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and kubectl for K8S_VERSION into
# K8S_BIN. `go install k8s.io/kubernetes/cmd/...@v` does not work because
# k8s.io/kubernetes replaces its staging modules with local paths, so a
# wrapper module re-points every staging module at its published v0.x tag.
k8s_build_binaries() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
  local missing=0 b
  for b in "${want[@]}"; do [[ -x "$K8S_BIN/$b" ]] || missing=1; done
  ((missing)) || return 0

  log "building Kubernetes $K8S_VERSION binaries into $K8S_BIN (cold: ~4 min on 2 cores)"
  local work="$K8S_CACHE/src-k8s"
  rm -rf "$work" && mkdir -p "$work" "$K8S_BIN"
  local minor="${K8S_VERSION#v1.}"
  local staging="v0.${minor}"
  local gomod
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || die "cannot download k8s.io/kubernetes@$K8S_VERSION"

  {
    echo "module localcluster/k8s"
    echo
    go_directive "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >"$work/go.mod"
  cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  local major=1 minor_only="${minor%%.*}" now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor_only"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  (
    cd "$work"
    GOFLAGS=-mod=mod go mod tidy -e >/dev/null
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$K8S_BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
  ) || die "building Kubernetes $K8S_VERSION failed"
  rm -rf "$work"
}

# etcd_build_binary builds etcd ETCD_VERSION into K8S_BIN. etcd's server
# module points at its sibling modules by local path too, so they are
# replaced with the same released version.
etcd_build_binary() {
  [[ -x "$K8S_BIN/etcd" ]] && return 0
  log "building etcd $ETCD_VERSION into $K8S_BIN"
  local work="$K8S_CACHE/src-etcd"
  rm -rf "$work" && mkdir -p "$work" "$K8S_BIN"
  local m
  {
    echo "module localcluster/etcd"
    echo
    echo "go 1.24"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
      echo "replace go.etcd.io/etcd/$m => go.etcd.io/etcd/$m $ETCD_VERSION"
    done
  } >"$work/go.mod"
  cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  (
    cd "$work"
    GOFLAGS=-mod=mod go mod tidy -e >/dev/null
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3
  ) || die "building etcd $ETCD_VERSION failed"
  rm -rf "$work"
}

# go_directive prints the go directive of a go.mod so the wrapper asks for
# the same language version as Kubernetes itself.
go_directive() {
  grep -m1 '^go ' "$1"
}

# KUBE_ROUTER_MOD is the wrapper module kube-router is built from: its
# go.mod pins kube-router and raises the dependencies with reported
# vulnerabilities, and its go.sum checks every module downloaded.
KUBE_ROUTER_MOD="$REPO_ROOT/hack/cluster/kube-router"

# kube_router_binary prints where kube-router is cached: under a hash of the
# wrapper's go.mod and go.sum, so raising a version builds it anew.
kube_router_binary() {
  local sum
  sum=$(cat "$KUBE_ROUTER_MOD/go.mod" "$KUBE_ROUTER_MOD/go.sum" | sha256sum | cut -c1-16)
  echo "$CACHE_ROOT/kube-router/$sum/kube-router"
}

# kube_router_build_binary builds kube-router, the cluster's NetworkPolicy
# controller, from the wrapper module (about 2 min on 2 cores, once), and
# removes the builds of earlier versions of the module.
kube_router_build_binary() {
  local bin
  bin=$(kube_router_binary)
  [[ -x "$bin" ]] && return 0
  log "building kube-router (NetworkPolicy controller) into $(dirname "$bin")"
  mkdir -p "$(dirname "$bin")"
  (
    cd "$KUBE_ROUTER_MOD"
    local mod=github.com/cloudnativelabs/kube-router/v2 version
    version=$(GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' "$mod")
    CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" \
      -ldflags "-s -w -X $mod/pkg/version.Version=$version" "$mod/cmd/kube-router"
  ) || die "building kube-router failed"
  mv "$bin.tmp" "$bin"
  find "$CACHE_ROOT/kube-router" -mindepth 1 -maxdepth 1 -type d ! -path "$(dirname "$bin")" -exec rm -rf {} +
}
