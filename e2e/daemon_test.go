//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A daemon-mode pod on the real node: envexec stays PID 1, the kubelet's exec probes run
// beside it, and the container stops as the kubelet stops one, by SIGTERM to PID 1.
var _ = Describe("a pod in daemon mode", Label("node", "vault"), func() {
	It("keeps envexec as PID 1 and parent of the application, passes exec probes, and exits with the application's code on SIGTERM", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("daemon")
		pod.Annotations = map[string]string{"vault-injector.io/daemon": "true"}
		c := &pod.Spec.Containers[0]
		// The app stops on SIGTERM with code 42, so the container's code is known to be its own.
		c.Command = []string{"/testapp", "daemon", "DB_PASSWORD", sha256Hex(f.canary)}
		ready := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "cat", "/tmp/ready"}}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: ready, PeriodSeconds: 1}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: ready, PeriodSeconds: 2, FailureThreshold: 5}
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		Expect(stored.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "ENVEXEC_DAEMON", Value: "true"}))

		By("checking the application got its secret as a child of envexec, which is PID 1")
		log := waitForApp(ctx, f.Namespace, "daemon", "app")
		Expect(log).To(MatchRegexp(`(?m)^match$`))
		Expect(log).To(MatchRegexp(`(?m)^ready pid=([2-9]|\d\d+) uid=0 ppid=1$`))
		cmdline, err := execOut(ctx, f, "daemon", "app", "/testapp", "cat", "/proc/1/cmdline")
		Expect(err).NotTo(HaveOccurred())
		// envexec re-executed itself with a clean environment, handing the original over
		// through a sealed memfd (docs/envexec.md).
		Expect(cmdline).To(MatchRegexp("^/vault-injector/envexec\x00--environ-fd\x00[0-9]+\x00--\x00/testapp\x00daemon\x00"))

		By("checking the kubelet's exec probes pass: the pod turns Ready and stays running")
		Eventually(ctx, podReady(ctx, stored)).WithPolling(250 * time.Millisecond).Should(BeTrue())

		By("checking no process but the application holds the value: not envexec, not an exec'd one")
		environ, err := execOut(ctx, f, "daemon", "app", "/testapp", "cat", "/proc/1/environ")
		Expect(err).NotTo(HaveOccurred())
		Expect(environ).To(BeEmpty(), "envexec runs with an empty environment: no GODEBUG or SSL_CERT_FILE of the pod's reaches it")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})

		By("stopping the container as the kubelet does: SIGTERM to its PID 1")
		_, err = execOut(ctx, f, "daemon", "app", "/testapp", "signal", "1", "TERM")
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, appTerminated(ctx, stored)).WithPolling(250*time.Millisecond).Should(HaveField("ExitCode", BeEquivalentTo(42)), "the application's exit code is the container's")
		log = appLog(ctx, f, "daemon")
		Expect(log).To(MatchRegexp(`(?m)^term$`), "the application got the SIGTERM")
		Expect(log).To(ContainSubstring(`"msg":"application exited"`))
		Expect(log).To(ContainSubstring(`"exitCode":42`))
		expectNoLeak(f.canary, map[string][]byte{"kubectl logs after the stop": []byte(log)})
	}, SpecTimeout(3*time.Minute))
})

// With vault-injector.io/mutate-probes, the webhook starts exec probes through envexec too,
// so a probe that checks a secret sees it; the kubelet runs it beside the application.
var _ = Describe("a pod whose exec probe needs the secret", Label("node", "vault"), func() {
	It("turns Ready only because envexec resolved the reference for the probe too", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		probe := []string{"/testapp", "check", "DB_PASSWORD", sha256Hex(f.canary)}
		build := func(name string, annotations map[string]string) *corev1.Pod {
			pod := f.nodePod(name)
			pod.Annotations = annotations
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: probe}}, PeriodSeconds: 1,
			}
			return pod
		}
		stored := f.createOnNode(ctx, build("mutated", map[string]string{"vault-injector.io/mutate-probes": "true"}))
		expectInjectedFrom(stored, "app")
		Expect(stored.Spec.Containers[0].ReadinessProbe.Exec.Command[0]).To(Equal(ourEnvexec), "the probe starts through envexec")
		plain := f.createOnNode(ctx, build("plain-probe", nil))
		Expect(plain.Spec.Containers[0].ReadinessProbe.Exec.Command).To(Equal(probe), "without the annotation the probe is left as written")

		expectGotSecret(waitForApp(ctx, f.Namespace, "mutated", "app"), 0)
		expectGotSecret(waitForApp(ctx, f.Namespace, "plain-probe", "app"), 0)
		Eventually(ctx, podReady(ctx, stored)).WithPolling(250 * time.Millisecond).Should(BeTrue())
		By("the same probe without envexec sees the reference, not the secret, and fails")
		Consistently(ctx, podReady(ctx, plain)).WithPolling(500 * time.Millisecond).WithTimeout(4 * time.Second).Should(BeFalse())
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))
})

// podReady polls whether the pod's Ready condition is True.
func podReady(ctx SpecContext, pod *corev1.Pod) func() (bool, error) {
	return func() (bool, error) {
		var p corev1.Pod
		if err := nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return false, err
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}
}
