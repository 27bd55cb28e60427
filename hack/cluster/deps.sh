# shellcheck shell=bash
# Installs the Debian packages the local cluster needs when they are missing.
# Sourced by hack/local-cluster.sh and hack/images.sh.

# apt_install PKG... installs packages, updating the package lists once.
apt_install() {
  command -v apt-get >/dev/null || die "missing packages ($*) and no apt-get to install them"
  log "installing Debian packages: $*"
  if [[ -z "${APT_UPDATED:-}" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# deps_install makes sure containerd, runc, the CNI plugins, iptables,
# ipset (for kube-router's NetworkPolicies), openssl, iproute2 and conntrack
# are present. Go must already be installed.
deps_install() {
  command -v go >/dev/null || die "Go is required to build the cluster binaries"
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x "$CNI_BIN_DIR/bridge" ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ipset >/dev/null || missing+=(ipset)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v conntrack >/dev/null || missing+=(conntrack)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}
