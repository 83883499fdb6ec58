// Package e2e is vault-injector's end-to-end suite (build tag e2e): real kube-apiservers
// and etcd, real Vault dev servers, a real node (kubelet, containerd, runc, a CNI bridge,
// dnsmasq as the cluster DNS) running the released image installed by helm, and the
// webhook binary as a host process for specs that only submit pods. Run it with
//
//	go test -tags e2e ./e2e/ -v
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=3 --tags e2e ./e2e/
//
// as root (the node runs containerd, a kubelet and a bridge). KUBEBUILDER_ASSETS and
// VAULT_BIN point at prebuilt components; without them hack/tools/build.sh builds
// them into a cache first. Labels: "vault" (needs Vault), "registry" (image lookups).
package e2e
