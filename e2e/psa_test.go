//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// The apiserver's Pod Security admission runs after the mutating webhooks, so it judges
// each pod as the webhook left it: with the injected init container, volumes and wrapped
// commands. These specs show that what the webhook adds never costs a restricted
// application its admission, and that each such pod then runs on the node as user 1000.
var _ = Describe("a namespace enforcing the restricted Pod Security Standard", Label("node", "vault", "psa"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, restrictedLabels)
	})

	It("rejects a mutated pod that breaks the profile, naming only the application's container", func(ctx SpecContext) {
		pod := restricted(f.nodePod("not-restricted"))
		pod.Spec.SecurityContext.RunAsNonRoot = nil

		err := nodeCluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`violates PodSecurity "restricted:latest"`))
		Expect(err.Error()).To(ContainSubstring(`container "app"`))
		Expect(err.Error()).NotTo(ContainSubstring("vault-injector-init"), "the injected init container meets the profile on its own")
		By("checking the pod Pod Security rejected was the mutated one")
		Eventually(ctx, webhookLinesAbout(ctx, env.Node.Chart, f.Namespace+"/not-restricted")).
			WithPolling(time.Second).Should(ContainSubstring(`"injected pod"`))
	}, SpecTimeout(time.Minute))

	DescribeTable("admits and runs every kind of pod the webhook mutates",
		func(ctx SpecContext, shape func(SpecContext, *fixture) *corev1.Pod, wrapped ...string) {
			pod := restricted(shape(ctx, f))
			stored := f.createOnNode(ctx, pod)
			expectInjectedFrom(stored, wrapped...)
			expectGotSecret(waitForApp(ctx, f.Namespace, pod.Name, "app"), 1000)
			Eventually(ctx, podReady(ctx, stored)).WithPolling(250*time.Millisecond).Should(BeTrue(), "the pod turns Ready")
		},
		Entry("a reference in a user init container, which runs only with the secret", SpecTimeout(3*time.Minute), func(_ SpecContext, f *fixture) *corev1.Pod {
			pod := f.nodePod("with-init")
			pod.Spec.InitContainers = []corev1.Container{{
				Name: "migrate", Image: env.Node.Images.App, Command: f.checkCommand(),
				Env: pod.Spec.Containers[0].Env,
			}}
			return pod
		}, "migrate", "app"),
		Entry("an exec probe run through envexec, which passes only with the secret", SpecTimeout(3*time.Minute), func(_ SpecContext, f *fixture) *corev1.Pod {
			pod := f.nodePod("with-probe")
			pod.Annotations = map[string]string{"vault-injector.io/mutate-probes": "true"}
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: f.checkCommand()}},
				PeriodSeconds: 1,
			}
			return pod
		}, "app"),
		Entry("references in a Secret named by envFrom (env-sources)", SpecTimeout(3*time.Minute), func(ctx SpecContext, f *fixture) *corev1.Pod {
			// The webhook never reads the Secret: the annotation asks for envexec, which
			// finds the reference at start.
			createSecret(ctx, nodeCluster, f, "app-env", map[string]string{"DB_PASSWORD": f.Ref("db", "password")})
			pod := f.nodePod("with-env-from")
			pod.Annotations = map[string]string{"vault-injector.io/env-sources": "true"}
			pod.Spec.Containers[0].Env = nil
			pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{
				SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-env"}},
			}}
			return pod
		}, "app"),
		Entry("an image without a command", Label("registry"), SpecTimeout(3*time.Minute), func(ctx SpecContext, f *fixture) *corev1.Pod {
			_, err := framework.PushImageFrom(ctx, env.Registry, env.Registry+"/e2e/testapp:v1", f.Namespace+"/app:1.0",
				framework.TestAppEntrypoint, f.hasCommand()[1:])
			Expect(err).NotTo(HaveOccurred())
			pod := f.nodePod("from-image")
			pod.Spec.Containers[0].Image = nodeRegistry() + "/" + f.Namespace + "/app:1.0"
			pod.Spec.Containers[0].Command = nil
			return pod
		}, "app"),
	)
})

// restrictedLabels make a namespace enforce the restricted profile from its first pod on.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
}

// restricted makes pod meet the restricted profile as an application team would: non-root
// with a fixed UID, the runtime's seccomp profile, no privilege escalation and no
// capabilities in every container.
func restricted(pod *corev1.Pod) *corev1.Pod {
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			containers[i].SecurityContext = &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}
		}
	}
	return pod
}

// expectInjected checks the stored pod was mutated: the copy init container comes first
// and each named container (init or app) starts through envexec.
func expectInjected(stored *corev1.Pod, wrapped ...string) {
	GinkgoHelper()
	Expect(stored.Annotations).To(HaveKeyWithValue("vault-injector.io/status", "injected"))
	Expect(stored.Spec.InitContainers).NotTo(BeEmpty())
	Expect(stored.Spec.InitContainers[0].Name).To(Equal("vault-injector-init"))
	commands := map[string][]string{}
	for _, c := range append(append([]corev1.Container{}, stored.Spec.InitContainers...), stored.Spec.Containers...) {
		commands[c.Name] = c.Command
	}
	for _, name := range wrapped {
		Expect(commands).To(HaveKeyWithValue(name, Not(BeEmpty())))
		Expect(commands[name][0]).To(Equal("/vault-injector/envexec"), "container %s starts through envexec", name)
	}
}
