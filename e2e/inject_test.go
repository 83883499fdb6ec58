//go:build e2e

package e2e

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

var _ = Describe("a pod with a vault: reference", Label("vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	// running starts the app and waits until it wrote the value it received.
	running := func(ctx SpecContext, annotations map[string]string, opts ...func(*corev1.Pod)) *framework.Pod {
		pod := appPod(f, "app", f.Ref("db", "password"), annotations)
		for _, o := range opts {
			o(pod)
		}
		p := f.start(ctx, f.create(ctx, pod))
		Eventually(ctx, marker(p, "app")).WithPolling(50 * time.Millisecond).Should(Equal(f.canary))
		return p
	}

	It("gives the application the secret, with the application as PID 1", func(ctx SpecContext) {
		p := running(ctx, nil)

		By("checking the app announced PID 1 of its namespace")
		Eventually(ctx, func() string { stdout, _ := p.Logs("app"); return string(stdout) }).
			Should(Equal("pid=1\n"))
		stdout, _, err := p.Exec(ctx, "app", "/bin/cat", "/proc/1/cmdline")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stdout)).NotTo(ContainSubstring("envexec"), "envexec must have exec'd the app, not be its parent")
	}, SpecTimeout(2*time.Minute))

	It("works for an application running as a non-root user", func(ctx SpecContext) {
		p := running(ctx, nil, func(pod *corev1.Pod) {
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{
				RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000), RunAsNonRoot: ptr.To(true),
			}
		})
		stdout, _, err := p.Exec(ctx, "app", "/usr/bin/id", "-u")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stdout)).To(Equal("1000\n"))
	}, SpecTimeout(2*time.Minute))

	It("works when the pod opts out of the ServiceAccount token mount", func(ctx SpecContext) {
		p := running(ctx, nil, func(pod *corev1.Pod) {
			pod.Spec.AutomountServiceAccountToken = ptr.To(false)
		})
		_, _, err := p.Exec(ctx, "app", "/bin/cat", framework.ServiceAccountDir+"/token")
		Expect(err).To(HaveOccurred(), "the default token must not be mounted")
	}, SpecTimeout(2*time.Minute))

	It("keeps the value out of the stored pod, the events, the webhook log and envexec's logs", func(ctx SpecContext) {
		p := running(ctx, map[string]string{"vault-injector.io/log-level": "debug"})

		podJSON, err := cluster.PodJSON(ctx, f.Namespace, "app")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(podJSON)).To(ContainSubstring(f.Ref("db", "password")), "the stored pod keeps the reference")
		events, err := cluster.EventsJSON(ctx, f.Namespace)
		Expect(err).NotTo(HaveOccurred())
		webhookLog, err := os.ReadFile(env.WebhookLog)
		Expect(err).NotTo(HaveOccurred())
		_, initStderr := p.Logs("vault-injector-init")
		appStdout, envexecStderr := p.Logs("app")

		By("checking the logs are there to check: the webhook logged this pod, envexec logged its work")
		Expect(string(webhookLog)).To(ContainSubstring(f.Namespace))
		Expect(envexecStderr).NotTo(BeEmpty())

		expectNoLeak(f.canary, map[string][]byte{
			"stored pod":            podJSON,
			"events":                events,
			"webhook log":           webhookLog,
			"envexec stderr":        envexecStderr,
			"init container stderr": initStderr,
			"application stdout":    appStdout,
		})
	}, SpecTimeout(2*time.Minute))

	It("does not show the value to another process started in the container", func(ctx SpecContext) {
		p := running(ctx, nil)

		stdout, stderr, err := p.Exec(ctx, "app", "/usr/bin/env")
		Expect(err).NotTo(HaveOccurred(), "stderr: %s", stderr)
		Expect(string(stdout)).To(ContainSubstring("DB_PASSWORD="+f.Ref("db", "password")+"\n"),
			"exec sees the spec's env, the reference")
		Expect(string(stdout)).NotTo(ContainSubstring(f.canary))
	}, SpecTimeout(2*time.Minute))
})
