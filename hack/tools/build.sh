#!/usr/bin/env bash
# Builds the real test components (kube-apiserver, etcd, vault, and the e2e node's kubelet,
# kube-controller-manager, kube-scheduler, containerd and its runc shim) from the
# Go module proxy into a versioned cache outside the repository, and prints the folder that
# holds them. A component is rebuilt only when its version (pinned in its wrapper module)
# changes. The node's Kubernetes binaries come from kube-apiserver's wrapper module, so the
# whole cluster runs one Kubernetes version.
#
#   hack/tools/build.sh            build what is missing, print the envtest assets folder
#   hack/tools/build.sh vault      build one component, print its binary path
#                                  (kube-apiserver, etcd, vault, golangci-lint, helm, benchstat, promtool,
#                                  kubectl, kubelet, kube-controller-manager, kube-scheduler, kube-proxy,
#                                  containerd, containerd-shim-runc-v2, cosign, cyclonedx-gomod)
#   hack/tools/build.sh node       build the node's binaries, print the folder that holds
#                                  them all (links), for the e2e node's PATH
#   hack/tools/build.sh all        build every component make test needs, two at a time,
#                                  print nothing
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULT_INJECTOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-injector/tools}
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off

# version MODULE_DIR MODULE_PATH: the version the wrapper module requires.
version() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# build NAME MODULE PACKAGE LDFLAGS: builds into $cache/NAME-VERSION/NAME unless present.
build() { build_in "$1" "$1" "$1" "$2" "$3" "$4"; }

# build_in NAME MODULE_DIR CACHE_NAME MODULE PACKAGE LDFLAGS [TAGS]: builds PACKAGE of the
# wrapper module in MODULE_DIR into $cache/CACHE_NAME-VERSION/NAME unless present.
build_in() {
  local name=$1 moddir=$2 cname=$3 module=$4 pkg=$5 ldflags=$6 tags=${7:-} ver dir
  ver=$(version "$moddir" "$module")
  dir=$cache/$cname-$ver
  if [[ ! -x $dir/$name ]]; then
    echo "building $name $ver into $dir (cold builds take minutes)" >&2
    mkdir -p "$(dirname "$dir/$name")"
    # No DWARF at all (the binaries are stripped anyway): about a tenth less compile time.
    (cd "$here/$moddir" && go build -trimpath -gcflags=all=-dwarf=false -tags "$tags" -ldflags "$ldflags" \
      -o "$dir/$name.tmp" "$pkg")
    mv "$dir/$name.tmp" "$dir/$name"
  fi
  echo "$dir/$name"
}

# kube NAME: a Kubernetes component from kube-apiserver's wrapper module (same version).
kube() {
  build_in "$1" kube-apiserver "$1" k8s.io/kubernetes "k8s.io/kubernetes/cmd/$1" "$kube_ldflags"
}

# ctrd NAME: containerd or its runc shim, both in one versioned folder (containerd-VERSION);
# the snapshotters that need cgo are left out.
ctrd() {
  build_in "$1" containerd containerd github.com/containerd/containerd/v2 \
    "github.com/containerd/containerd/v2/cmd/$1" "-s -w" "no_btrfs no_devmapper no_zfs"
}

# One build at a time across processes: go test runs packages in parallel, and two of them
# must never build the same binary at once.
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9

kube_ver=$(version kube-apiserver k8s.io/kubernetes)
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_ver \
 -X k8s.io/component-base/version.gitMajor=$(echo "${kube_ver#v}" | cut -d. -f1) \
 -X k8s.io/component-base/version.gitMinor=$(echo "${kube_ver#v}" | cut -d. -f2)"

# helm_ldflags: helm's version, and the Kubernetes version its client libraries speak (else
# `helm template` assumes v1.20 and rejects charts that need a newer cluster), as its Makefile sets.
helm_ldflags() {
  local minor
  minor=$(version helm k8s.io/client-go | cut -d. -f2)
  echo "-s -w -X helm.sh/helm/v3/internal/version.version=$(version helm helm.sh/helm/v3) \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
}

# node: every binary the e2e node runs, linked into one folder keyed by both versions (the
# shim must be on containerd's PATH, so the node puts this folder first on it).
node() {
  local c bin ctrd_ver dir
  ctrd_ver=$(version containerd github.com/containerd/containerd/v2)
  dir=$cache/node-$kube_ver-containerd-$ctrd_ver
  mkdir -p "$dir"
  # kube-proxy is not among them: the node makes the one Service its pods use itself.
  for c in kubelet kube-controller-manager kube-scheduler containerd containerd-shim-runc-v2; do
    bin=$(one "$c")
    ln -sf "$bin" "$dir/$c"
  done
  echo "$dir"
}

# vault: Vault built with its `minimal` tag (the core engines and auth methods, no cloud
# plugins or storage backends: well under half the code of a full build), and beside it, in
# plugins/, the two plugins the tests use that a minimal build lacks, from the versions
# Vault pins. internal/vaultdev registers them. The binary is built last, so its presence
# means the plugins are there.
vault() {
  local p=github.com/hashicorp
  build_in plugins/kubernetes vault vault-minimal $p/vault \
    $p/vault-plugin-auth-kubernetes/cmd/vault-plugin-auth-kubernetes "-s -w" >/dev/null
  build_in plugins/postgresql-database-plugin vault vault-minimal $p/vault \
    $p/vault/plugins/database/postgresql/postgresql-database-plugin "-s -w" >/dev/null
  build_in vault vault vault-minimal $p/vault $p/vault "-s -w" minimal
}

one() {
  case $1 in
    kube-apiserver) build kube-apiserver k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags" ;;
    etcd) build etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 "-s -w" ;;
    vault) vault ;;
    golangci-lint) build golangci-lint github.com/golangci/golangci-lint/v2 \
      github.com/golangci/golangci-lint/v2/cmd/golangci-lint "-s -w" ;;
    helm) build helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$(helm_ldflags)" ;;
    benchstat) build benchstat golang.org/x/perf golang.org/x/perf/cmd/benchstat "-s -w" ;;
    # promtool only checks and unit-tests rules: no service discovery (less than half the code).
    promtool) build_in promtool promtool promtool github.com/prometheus/prometheus \
      github.com/prometheus/prometheus/cmd/promtool "-s -w" remove_all_sd ;;
    kubectl | kubelet | kube-controller-manager | kube-scheduler | kube-proxy) kube "$1" ;;
    containerd | containerd-shim-runc-v2) ctrd "$1" ;;
    node) node ;;
    # The release tools (make release): SBOMs of the binaries, signatures and attestations.
    cosign) build cosign github.com/sigstore/cosign/v3 github.com/sigstore/cosign/v3/cmd/cosign \
      "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$(version cosign github.com/sigstore/cosign/v3)" ;;
    cyclonedx-gomod) build cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod \
      github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "-s -w" ;;
    *) echo "unknown component $1 (want kube-apiserver, etcd, vault, golangci-lint, helm, benchstat, promtool," \
      "kubectl, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, containerd, containerd-shim-runc-v2, node," \
      "cosign or cyclonedx-gomod)" >&2
      return 2 ;;
  esac
}

# all: every component `make tools` needs, in two lanes at once: one go build leaves a core
# idle while it downloads modules or links. Components that share a module stay in one lane,
# since two builds of the same package at once would both compile it.
all() {
  local a b rc=0
  (for c in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler etcd cosign \
    cyclonedx-gomod; do one "$c" >/dev/null; done) &
  a=$!
  (for c in vault promtool helm containerd containerd-shim-runc-v2 golangci-lint; do
    one "$c" >/dev/null
  done) &
  b=$!
  wait "$a" || rc=$?
  wait "$b" || rc=$?
  return "$rc"
}

if [[ $# -gt 0 ]]; then
  for c in "$@"; do
    if [[ $c == all ]]; then all; else one "$c"; fi
  done
  exit 0
fi

# envtest wants kube-apiserver and etcd side by side in one folder (KUBEBUILDER_ASSETS).
api=$(one kube-apiserver)
etcd=$(one etcd)
one vault >/dev/null
assets=$cache/envtest-$kube_ver-$(basename "$(dirname "$etcd")")
mkdir -p "$assets"
ln -sf "$api" "$assets/kube-apiserver"
ln -sf "$etcd" "$assets/etcd"
echo "$assets"
