#!/usr/bin/env bash
# Builds the real test components (kube-apiserver, etcd, vault) from the Go module proxy
# into a versioned cache outside the repository, and prints the folder that holds them.
# A component is rebuilt only when its version (pinned in its wrapper module) changes.
#
#   hack/tools/build.sh            build what is missing, print the envtest assets folder
#   hack/tools/build.sh vault      build one component, print its binary path
#                                  (kube-apiserver, etcd, vault, golangci-lint, helm, benchstat,
#                                  cosign, cyclonedx-gomod)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULT_INJECTOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-injector/tools}
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off

# version MODULE_DIR MODULE_PATH: the version the wrapper module requires.
version() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# build NAME MODULE PACKAGE LDFLAGS: builds into $cache/NAME-VERSION/NAME unless present.
build() {
  local name=$1 module=$2 pkg=$3 ldflags=$4 ver dir
  ver=$(version "$name" "$module")
  dir=$cache/$name-$ver
  if [[ ! -x $dir/$name ]]; then
    echo "building $name $ver into $dir (cold builds take minutes)" >&2
    mkdir -p "$dir"
    (cd "$here/$name" && go build -trimpath -ldflags "$ldflags" -o "$dir/$name.tmp" "$pkg")
    mv "$dir/$name.tmp" "$dir/$name"
  fi
  echo "$dir/$name"
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

one() {
  case $1 in
    kube-apiserver) build kube-apiserver k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags" ;;
    etcd) build etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 "-s -w" ;;
    vault) build vault github.com/hashicorp/vault github.com/hashicorp/vault "-s -w" ;;
    golangci-lint) build golangci-lint github.com/golangci/golangci-lint/v2 \
      github.com/golangci/golangci-lint/v2/cmd/golangci-lint "-s -w" ;;
    helm) build helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$(helm_ldflags)" ;;
    benchstat) build benchstat golang.org/x/perf golang.org/x/perf/cmd/benchstat "-s -w" ;;
    # The release tools (make release): SBOMs of the binaries, signatures and attestations.
    cosign) build cosign github.com/sigstore/cosign/v3 github.com/sigstore/cosign/v3/cmd/cosign \
      "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$(version cosign github.com/sigstore/cosign/v3)" ;;
    cyclonedx-gomod) build cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod \
      github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "-s -w" ;;
    *) echo "unknown component $1 (want kube-apiserver, etcd, vault, golangci-lint, helm, benchstat, cosign or cyclonedx-gomod)" >&2; return 2 ;;
  esac
}

if [[ $# -gt 0 ]]; then
  for c in "$@"; do one "$c"; done
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
