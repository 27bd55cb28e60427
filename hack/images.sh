#!/usr/bin/env bash
# Builds the project's images from their own Dockerfiles with a private
# Docker daemon (Debian's docker.io) and loads them into the local cluster,
# the equivalent of `docker build` + `kind load docker-image`.
#
#   hack/images.sh build [NAME...]   build images (default: all)
#   hack/images.sh load  [NAME...]   build, then import into the local cluster's containerd
#   hack/images.sh daemon-up         start the private Docker daemon; prints DOCKER_HOST
#   hack/images.sh daemon-down       stop it
#
# NAME is one of: faas-gateway faas-operator faas-package faas-registry
# faas-python-runner faas-nodejs-runner smoke-http (the default set).
# No registry is reachable here, so base images are made locally: Python and
# Node.js from debootstrapped Debian rootfs (cached), Go images FROM scratch
# with a static binary built by `go build` on the host.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster/lib.sh
source "$REPO_ROOT/hack/cluster/lib.sh"
# shellcheck source=cluster/deps.sh
source "$REPO_ROOT/hack/cluster/deps.sh"

IMAGE_TAG="${IMAGE_TAG:-dev}"
DOCKER_DIR="$CACHE_ROOT/docker"
DOCKER_RUN="/run/$PROJECT-docker"
export DOCKER_HOST="unix://$DOCKER_RUN/docker.sock"
export DOCKER_API_VERSION=1.41
# Debian packages (and suite) of each runtime's base image (debian_base).
# python3-pip: package builds run pip in the runner image itself, so native
# wheels match the runner (docs/packages.md).
PYTHON_PACKAGES=python3,python3-pip
NODEJS_PACKAGES=nodejs
# Node 20 (trixie): bookworm's Node 18 accepts chunk data not followed by
# CRLF, a request-smuggling vector (runtimes/nodejs/README.md).
NODEJS_SUITE=trixie
ALL_IMAGES=(faas-gateway faas-operator faas-package faas-registry faas-python-runner faas-nodejs-runner smoke-http)
# Built only when named, so `make images-load` and CI do not pay for them.
OPTIONAL_IMAGES=()

daemon_up() {
  command -v dockerd >/dev/null || apt_install docker.io
  command -v docker >/dev/null || apt_install docker.io
  if docker version >/dev/null 2>&1; then return 0; fi
  mkdir -p "$DOCKER_DIR" "$DOCKER_RUN"
  # --iptables=false/--bridge=none: the daemon must not touch the forwarding
  # policy the kubelet's pod network relies on; builds use the host network.
  # The daemon outlives this script: it must not inherit its descriptors,
  # such as the one a caller's `flock <lock> hack/images.sh` holds the lock
  # on, which would then never be released.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec ${fd}>&-" 2>/dev/null
    done
    exec setsid dockerd -H "$DOCKER_HOST" --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_RUN/exec" \
      --pidfile "$DOCKER_RUN/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
      >>"$DOCKER_RUN/dockerd.log" 2>&1 </dev/null
  ) &
  local i
  for ((i = 0; i < 300; i++)); do
    docker version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "dockerd did not start (log: $DOCKER_RUN/dockerd.log)"
}

daemon_down() {
  local pid
  [[ -f "$DOCKER_RUN/dockerd.pid" ]] || return 0
  pid=$(cat "$DOCKER_RUN/dockerd.pid")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# debian_base NAME PACKAGES [SUITE] makes the base image of a runtime from a
# minimal Debian rootfs (SUITE, default bookworm) with PACKAGES
# (comma-separated) and sets BASE_IMAGE to it. Image and rootfs tarball are
# keyed on suite and package list: later builds take seconds, and a changed
# list makes a new base.
debian_base() {
  local name=$1 packages=$2 suite=${3:-bookworm} key rootfs
  key=$(printf '%s' "$packages" | sha256sum | cut -c1-12)
  BASE_IMAGE="localhost/$PROJECT/$name-base:$suite-$key"
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  rootfs="$IMAGE_CACHE/$name-$suite-$key-rootfs.tar.gz"
  # The Python rootfs was cached before the key; reuse it for the same list.
  if [[ ! -f "$rootfs" && "$name/$suite/$packages" == python/bookworm/python3 && -f "$IMAGE_CACHE/python-bookworm-rootfs.tar.gz" ]]; then
    rootfs="$IMAGE_CACHE/python-bookworm-rootfs.tar.gz"
  fi
  if [[ ! -f "$rootfs" ]]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    log "debootstrapping a $name $suite rootfs with $packages (~40 s, once)"
    local dir mirror
    dir=$(mktemp -d)
    mirror=$(apt_mirror)
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" >/dev/null \
      || die "debootstrap failed"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    mkdir -p "$IMAGE_CACHE"
    tar -C "$dir" --numeric-owner -czf "$rootfs.tmp" .
    mv "$rootfs.tmp" "$rootfs"
    rm -rf "$dir"
  fi
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$rootfs" "$BASE_IMAGE" >/dev/null
}

# apt_mirror prints the Debian mirror apt already uses.
apt_mirror() {
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [[ -n "$m" ]] || m=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

# go_binary NAME PKG builds a static linux binary into bin/linux/NAME, the
# build context the Go images' Dockerfiles copy from.
go_binary() {
  mkdir -p "$REPO_ROOT/bin/linux"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "bin/linux/$1" "$2")
}

# registry_binary builds the CNCF Distribution registry into bin/linux/registry
# from the wrapper module hack/cluster/registry, whose go.mod pins it and
# raises its dependencies (about 2 min on 2 cores the first time, seconds
# from the Go build cache after).
registry_binary() {
  local mod=github.com/distribution/distribution/v3 version
  mkdir -p "$REPO_ROOT/bin/linux"
  (
    cd "$REPO_ROOT/hack/cluster/registry"
    version=$(GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' "$mod")
    CGO_ENABLED=0 GOOS=linux GOFLAGS=-mod=readonly go build -trimpath -o "$REPO_ROOT/bin/linux/registry" \
      -ldflags "-s -w -X $mod/version.version=$version" "$mod/cmd/registry"
  ) || die "building the registry failed"
}

build_one() {
  local name=$1
  case "$name" in
    faas-python-runner)
      debian_base python "$PYTHON_PACKAGES"
      docker build -q --build-arg "BASE=$BASE_IMAGE" -t "$name:$IMAGE_TAG" "$REPO_ROOT/runtimes/python" >/dev/null
      ;;
    faas-nodejs-runner)
      debian_base nodejs "$NODEJS_PACKAGES" "$NODEJS_SUITE"
      docker build -q --build-arg "BASE=$BASE_IMAGE" -t "$name:$IMAGE_TAG" "$REPO_ROOT/runtimes/nodejs" >/dev/null
      ;;
    faas-gateway | faas-operator)
      go_binary "${name#faas-}" "./cmd/${name#faas-}"
      docker build -q -f "$REPO_ROOT/build/$name.Dockerfile" -t "$name:$IMAGE_TAG" "$REPO_ROOT" >/dev/null
      ;;
    faas-package)
      go_binary faas-package ./cmd/faas-package
      docker build -q -f "$REPO_ROOT/build/$name.Dockerfile" -t "$name:$IMAGE_TAG" "$REPO_ROOT" >/dev/null
      ;;
    faas-registry)
      registry_binary
      docker build -q -f "$REPO_ROOT/build/$name.Dockerfile" -t "$name:$IMAGE_TAG" "$REPO_ROOT" >/dev/null
      ;;
    smoke-http)
      go_binary smoke-http ./test/e2e/smokehttp
      docker build -q -f "$REPO_ROOT/test/e2e/smokehttp/Dockerfile" -t "$name:$IMAGE_TAG" "$REPO_ROOT" >/dev/null
      ;;
    *) die "unknown image $name (known: ${ALL_IMAGES[*]} ${OPTIONAL_IMAGES[*]})" ;;
  esac
  log "built $name:$IMAGE_TAG"
}

load_one() {
  local name=$1 tar
  tar="$IMAGE_CACHE/$name.tar"
  mkdir -p "$IMAGE_CACHE"
  docker save "$name:$IMAGE_TAG" -o "$tar"
  "$REPO_ROOT/hack/local-cluster.sh" load-image "$tar"
  rm -f "$tar"
  log "loaded $name:$IMAGE_TAG into the local cluster"
}

main() {
  local cmd=${1:-}
  shift || true
  local names=("$@")
  ((${#names[@]})) || names=("${ALL_IMAGES[@]}")
  case "$cmd" in
    build | load)
      daemon_up
      local n
      for n in "${names[@]}"; do build_one "$n"; done
      if [[ "$cmd" == load ]]; then
        for n in "${names[@]}"; do load_one "$n"; done
      fi
      ;;
    daemon-up) daemon_up; echo "$DOCKER_HOST" ;;
    daemon-down) daemon_down ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; [[ -z "$cmd" || "$cmd" == help ]] || exit 2 ;;
  esac
}

main "$@"
