//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// imageScript is appScript as a Dockerfile would hold it: image configs are not subject
// to the kubelet's $(VAR) expansion, so the shell's $$ is written plainly.
const imageScript = `echo "pid=$$"; printf %s "$DB_PASSWORD" > /out/secret; sleep 600`

var _ = Describe("a container that gives no command", Label("registry"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	// entrypointPod is appPod relying on its image's ENTRYPOINT and CMD.
	entrypointPod := func(name, image string) *corev1.Pod {
		pod := appPod(f, name, f.Ref("db", "password"), nil)
		pod.Spec.Containers[0].Name = "uses-image-entrypoint"
		pod.Spec.Containers[0].Image = image
		pod.Spec.Containers[0].Command, pod.Spec.Containers[0].Args = nil, nil
		return pod
	}

	It("runs the image's entrypoint and cmd behind envexec", Label("vault"), func(ctx SpecContext) {
		image, err := framework.PushImage(ctx, env.Registry, f.Namespace+"/app:1.0",
			[]string{"/bin/sh", "-c"}, []string{imageScript})
		Expect(err).NotTo(HaveOccurred())

		stored := f.create(ctx, entrypointPod("from-image", image))
		c := stored.Spec.Containers[0]
		Expect(c.Command).To(Equal([]string{"/vault-injector/envexec", "--", "/bin/sh", "-c"}))

		p := f.start(ctx, stored)
		Eventually(ctx, marker(p, c.Name)).WithPolling(50 * time.Millisecond).Should(Equal(f.canary))
		By("checking the image's CMD reached the shell as the image meant it")
		stdout, _ := p.Logs(c.Name)
		Expect(string(stdout)).To(Equal("pid=1\n"), "a $ copied from an image into the pod spec must be escaped as $$")
	}, SpecTimeout(2*time.Minute))

	It("is rejected at creation if its image cannot be read, naming the pod and container", func(ctx SpecContext) {
		pod := entrypointPod("entrypoint-only", env.Registry+"/"+f.Namespace+"/missing:1.0")

		err := cluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring("entrypoint-only"), "names the pod")
		Expect(err.Error()).To(ContainSubstring("uses-image-entrypoint"), "names the container")
		Expect(err.Error()).To(ContainSubstring(f.Namespace+"/missing:1.0"), "names the image")

		err = cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the pod must not be stored, got %v", err)
	}, SpecTimeout(time.Minute))
})
