// Package apiservertest starts a real kube-apiserver and etcd (envtest) for a test, from
// KUBEBUILDER_ASSETS or the cached build of hack/tools/build.sh, so the packages that need
// one share a single way to get it.
package apiservertest

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// Start starts the apiserver and stops it when the test ends; its Config and KubeConfig
// are an admin's.
func Start(t testing.TB) *envtest.Environment {
	t.Helper()
	assets, err := tools.KubebuilderAssets(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := env.Start(); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	return env
}
