//go:build e2e

package e2e

import (
	"crypto/rand"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// The apiserver's Pod Security admission runs after the mutating webhooks, so it judges
// each pod as the webhook left it: with the injected init container, volumes and wrapped
// commands. These specs show that what the webhook adds never costs a restricted
// application its admission.
// imageScript is appScript as a Dockerfile would hold it: image configs are not subject
// to the kubelet's $(VAR) expansion, so the shell's $$ is written plainly.
const imageScript = `echo "pid=$$"; printf %s "$DB_PASSWORD" > /out/secret; sleep 600`

var _ = Describe("a namespace enforcing the restricted Pod Security Standard", Label("psa"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newRestrictedFixture(ctx)
	})

	It("rejects a mutated pod that breaks the profile, naming only the application's container", func(ctx SpecContext) {
		pod := restricted(appPod(f, "not-restricted", f.Ref("db", "password"), nil))
		pod.Spec.SecurityContext.RunAsNonRoot = nil

		err := cluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`violates PodSecurity "restricted:latest"`))
		Expect(err.Error()).To(ContainSubstring(`container "app"`))
		Expect(err.Error()).NotTo(ContainSubstring("vault-injector-init"), "the injected init container meets the profile on its own")
		By("checking the pod Pod Security rejected was the mutated one")
		Expect(grepLog(env.WebhookLog, f.Namespace+"/not-restricted")).To(ContainSubstring("injected pod"))
	}, SpecTimeout(time.Minute))

	DescribeTable("admits every kind of pod the webhook mutates",
		func(ctx SpecContext, shape func(SpecContext, *fixture) *corev1.Pod, wrapped ...string) {
			stored := f.create(ctx, restricted(shape(ctx, f)))
			expectInjected(stored, wrapped...)
		},
		Entry("a reference in a user init container", SpecTimeout(time.Minute), func(_ SpecContext, f *fixture) *corev1.Pod {
			pod := appPod(f, "with-init", f.Ref("db", "password"), nil)
			pod.Spec.InitContainers = []corev1.Container{{
				Name: "migrate", Image: "example.com/migrate:1.0", Command: []string{"/bin/sh", "-c", `test -n "$DB_PASSWORD"`},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: f.Ref("db", "password")}},
			}}
			return pod
		}, "migrate", "app"),
		Entry("exec probes run through envexec", SpecTimeout(time.Minute), func(_ SpecContext, f *fixture) *corev1.Pod {
			pod := appPod(f, "with-probe", f.Ref("db", "password"), map[string]string{"vault-injector.io/mutate-probes": "true"})
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", `test -n "$DB_PASSWORD"`}},
			}}
			return pod
		}, "app"),
		Entry("references in a Secret named by envFrom (env-sources)", SpecTimeout(time.Minute), func(ctx SpecContext, f *fixture) *corev1.Pod {
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: "app-env"},
				StringData: map[string]string{"DB_PASSWORD": f.Ref("db", "password")},
			}
			Expect(cluster.Client.Create(ctx, secret)).To(Succeed())
			// The webhook never reads the Secret: the annotation asks for envexec, which
			// finds the reference at start.
			pod := appPod(f, "with-env-from", "", map[string]string{"vault-injector.io/env-sources": "true"})
			pod.Spec.Containers[0].Env = nil
			pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{
				SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret.Name}},
			}}
			return pod
		}, "app"),
		Entry("an image without a command", Label("registry"), SpecTimeout(time.Minute), func(ctx SpecContext, f *fixture) *corev1.Pod {
			image, err := framework.PushImage(ctx, env.Registry, f.Namespace+"/app:1.0", []string{"/bin/sh", "-c"}, []string{imageScript})
			Expect(err).NotTo(HaveOccurred())
			pod := appPod(f, "from-image", f.Ref("db", "password"), nil)
			pod.Spec.Containers[0].Image = image
			pod.Spec.Containers[0].Command, pod.Spec.Containers[0].Args = nil, nil
			return pod
		}, "app"),
	)
})

// newRestrictedFixture is newFixture in a namespace created with the restricted profile
// enforced, so that Pod Security sees the labels from the first pod on.
func newRestrictedFixture(ctx SpecContext) *fixture {
	id := strings.ToLower(rand.Text()[:10])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + id, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	Expect(cluster.Client.Create(ctx, ns)).To(Succeed())
	t, err := framework.NewTenant(ctx, cluster, env.Vault, ns.Name, "app-"+id)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(t.Delete)
	f := &fixture{Tenant: t, canary: "canary-" + rand.Text()}
	Expect(t.PutSecret(ctx, "db", map[string]string{"password": f.canary})).To(Succeed())
	current = f
	return f
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
