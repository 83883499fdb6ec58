//go:build e2e

package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// These run on the real node: the webhook, itself a pod, reads the image's config from
// the registry the kubelet pulls from.
var _ = Describe("a container that gives no command", Label("node", "registry"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// entrypointPod is nodeEnvPod relying on its image's ENTRYPOINT and CMD.
	entrypointPod := func(name, image string) *corev1.Pod {
		pod := f.nodeEnvPod(name, envVars("DB_PASSWORD", f.Ref("db", "password"), "GREETING", "hello"), nil)
		c := &pod.Spec.Containers[0]
		c.Name, c.Image, c.Command, c.Args = "uses-image-entrypoint", image, nil, nil
		return pod
	}

	It("runs the image's entrypoint and cmd behind envexec, its $ kept from the kubelet's expansion", Label("vault"), func(ctx SpecContext) {
		// Image configs are not subject to $(VAR) expansion: the webhook must escape what it
		// copies into the pod spec, or the kubelet would rewrite it.
		cmd := []string{"argv", argvFile, "$(GREETING)", "$$", "$HOME"}
		_, err := framework.PushImageFrom(ctx, env.Registry, env.Registry+"/e2e/testapp:v1", f.Namespace+"/app:1.0",
			framework.TestAppEntrypoint, cmd)
		Expect(err).NotTo(HaveOccurred())

		stored := f.createOnNode(ctx, entrypointPod("from-image", nodeRegistry()+"/"+f.Namespace+"/app:1.0"))
		c := stored.Spec.Containers[0]
		Expect(c.Command).To(Equal([]string{"/vault-injector/envexec", "--", "/testapp"}))
		Expect(c.Args).To(Equal([]string{"argv", argvFile, "$$(GREETING)", "$$$$", "$$HOME"}), "every $ escaped")

		waitForApp(ctx, f.Namespace, "from-image", c.Name)
		By("checking the image's CMD reached the application as the image meant it")
		got, err := execOut(ctx, f, "from-image", c.Name, "/testapp", "cat", argvFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal("$(GREETING)\n$$\n$HOME\n"))
	}, SpecTimeout(3*time.Minute))

	It("is rejected at creation if its image cannot be read, naming the pod and container", func(ctx SpecContext) {
		pod := entrypointPod("entrypoint-only", nodeRegistry()+"/"+f.Namespace+"/missing:1.0")

		err := nodeCluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring("entrypoint-only"), "names the pod")
		Expect(err.Error()).To(ContainSubstring("uses-image-entrypoint"), "names the container")
		Expect(err.Error()).To(ContainSubstring(f.Namespace+"/missing:1.0"), "names the image")

		err = nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the pod must not be stored, got %v", err)
	}, SpecTimeout(time.Minute))
})

// nodeRegistry is the suite's registry as pods and the node's webhook name it.
func nodeRegistry() string {
	host, _, _ := strings.Cut(env.Node.Images.App, "/")
	return host
}
