// Package e2e is vault-injector's end-to-end suite (build tag e2e): a real kube-apiserver
// and etcd, real Vault dev servers, a real OCI registry and a real node (kubelet,
// containerd, runc, a CNI bridge, dnsmasq as the cluster DNS) running the released image,
// installed by helm. Every spec's pods go through the chart's replicas, which the
// apiserver calls through their Service; no webhook runs as a host process. Run it with
//
//	go test -tags e2e ./e2e/ -v
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=3 --tags e2e ./e2e/
//
// as root (the node runs containerd, a kubelet and a bridge). KUBEBUILDER_ASSETS and
// VAULT_BIN point at prebuilt components; without them hack/tools/build.sh builds
// them into a cache first. Labels: "node" (every spec but the framework's own), "vault"
// (needs Vault), "registry" (image lookups), "chart" (changes the release; serial).
package e2e
