//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/internal/image"
)

// These specs run their pods on the real node: the kubelet pulls the product image and
// the test app from the registry, runs the injected init container that copies envexec
// out of the product image, and envexec logs in to Vault with the token the kubelet
// projected. Nothing here plays the kubelet.
var _ = Describe("a pod on a real kubelet", Label("node", "vault"), func() {
	It("gets its secret from the product image's envexec, and the secret reaches no log, describe or exec", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		begin := time.Now()
		stored := f.createOnNode(ctx, f.nodePod("app"))
		expectInjectedFrom(stored, "app")

		log := waitForApp(ctx, f.Namespace, "app", "app")
		GinkgoWriter.Printf("injected pod: created to application up in %s\n", time.Since(begin).Round(time.Millisecond))
		expectGotSecret(log, 0)
		Expect(log).To(ContainSubstring(`"msg":"starting application"`), "envexec's start line")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))

	It("wraps a native sidecar (an init container with restartPolicy Always) and the app after it", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("sidecar")
		pod.Spec.InitContainers = []corev1.Container{{
			Name: "sidecar", Image: env.Node.Images.App, Command: f.hasCommand(),
			RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			Env:           pod.Spec.Containers[0].Env,
		}}
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "sidecar", "app")

		expectGotSecret(waitForApp(ctx, f.Namespace, "sidecar", "sidecar"), 0)
		expectGotSecret(waitForApp(ctx, f.Namespace, "sidecar", "app"), 0)
		expectNoLeakOnNode(ctx, f, stored, []string{"sidecar", "app"})
	}, SpecTimeout(3*time.Minute))

	It("runs under Pod Security restricted: RuntimeDefault seccomp, read-only root, non-root", func(ctx SpecContext) {
		f := newFixture(ctx, restrictedLabels)
		pod := restricted(f.nodePod("restricted"))
		pod.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(true)
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")

		expectGotSecret(waitForApp(ctx, f.Namespace, "restricted", "app"), 1000)
		By("checking the runtime applied the profile: seccomp filter on, root file system read-only")
		status, err := execOut(ctx, f, "restricted", "app", "/testapp", "cat", "/proc/1/status")
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(MatchRegexp(`(?m)^Seccomp:\s+2$`), "RuntimeDefault is a seccomp filter (mode 2)")
		Expect(status).To(MatchRegexp(`(?m)^NoNewPrivs:\s+1$`))
		_, err = execOut(ctx, f, "restricted", "app", "/testapp", "write", "/probe", "x")
		Expect(err).To(MatchError(ContainSubstring("read-only file system")))
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))

	It("runs an args-only container with the entrypoint the webhook looked up in the registry", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("args-only")
		pod.Spec.Containers[0].Args = pod.Spec.Containers[0].Command[1:]
		pod.Spec.Containers[0].Command = nil
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		Expect(stored.Spec.Containers[0].Command).To(Equal([]string{"/vault-injector/envexec", "--", "/testapp"}),
			"envexec, then the image's entrypoint from the registry")
		Expect(stored.Spec.Containers[0].Args).To(Equal(f.hasCommand()[1:]), "the pod's args stay as written")

		expectGotSecret(waitForApp(ctx, f.Namespace, "args-only", "app"), 0)
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("envexec from an image volume on a real kubelet", Label("node", "vault"), func() {
	It("runs the app through envexec mounted from the injector image, with no init container", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("image-volume")
		pod.Annotations = map[string]string{"vault-injector.io/envexec-delivery": "image-volume"}
		begin := time.Now()
		stored := f.createOnNode(ctx, pod)
		Expect(stored.Spec.InitContainers).To(BeEmpty(), "no copying init container")
		var source *corev1.ImageVolumeSource
		for _, v := range stored.Spec.Volumes {
			if v.Image != nil {
				source = v.Image
			}
		}
		Expect(source).NotTo(BeNil(), "an image volume")
		Expect(source.Reference).To(Equal(env.Node.Images.Injector), "of the platform's injector image")
		Expect(stored.Spec.Containers[0].Command[0]).To(Equal("/vault-injector/envexec"))

		log := waitForApp(ctx, f.Namespace, "image-volume", "app")
		GinkgoWriter.Printf("image-volume pod: created to application up in %s\n", time.Since(begin).Round(time.Millisecond))
		expectGotSecret(log, 0)
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))
})

// expectInjectedFrom checks the stored pod was mutated by the node's webhook: the copy
// init container runs the product image and each named container starts through envexec.
func expectInjectedFrom(stored *corev1.Pod, wrapped ...string) {
	GinkgoHelper()
	expectInjected(stored, wrapped...)
	Expect(stored.Spec.InitContainers[0].Image).To(Equal(env.Node.Images.Injector))
	Expect(stored.Spec.InitContainers[0].Command).To(ContainElement(image.BinDir + "/envexec"))
}
