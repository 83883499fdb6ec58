//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// Variations of the plain injected pod on the real node. The pod as a developer writes
// it (the application as PID 1, the value in no log, describe, event or exec session) is
// "a pod on a real kubelet" in node_test.go.
var _ = Describe("a pod with a vault: reference", Label("node", "vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	It("works for an application running as a non-root user", func(ctx SpecContext) {
		pod := f.nodePod("non-root")
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000), RunAsNonRoot: ptr.To(true),
		}
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		expectGotSecret(waitForApp(ctx, f.Namespace, "non-root", "app"), 1000)
	}, SpecTimeout(3*time.Minute))

	It("works when the pod opts out of the ServiceAccount token mount", func(ctx SpecContext) {
		pod := f.nodePod("no-token")
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		expectGotSecret(waitForApp(ctx, f.Namespace, "no-token", "app"), 0)
		_, err := execOut(ctx, f, "no-token", "app", "/testapp", "cat", framework.ServiceAccountDir+"/token")
		Expect(err).To(MatchError(ContainSubstring("no such file or directory")), "the default token is not mounted")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))
})
