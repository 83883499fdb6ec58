// Package e2e is vault-injector's end-to-end suite (build tag e2e): a real
// kube-apiserver and etcd, a real Vault dev server, the real webhook binary and the real
// envexec, with e2e/framework playing the kubelet. Run it with
//
//	go test -tags e2e ./e2e/ -v
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=3 --tags e2e ./e2e/
//
// as root (the pod runner creates PID and mount namespaces). KUBEBUILDER_ASSETS and
// VAULT_BIN point at prebuilt components; without them hack/tools/build.sh builds
// them into a cache first. Labels: "vault" (needs Vault), "registry" (image lookups).
package e2e
