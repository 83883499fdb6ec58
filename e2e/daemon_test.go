//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
)

// daemonScript is an application that stops on SIGTERM with its own exit code, so the
// spec can tell the code is the application's and not envexec's. It writes its secret,
// then its PID and its parent's ($$$$ is the kubelet's escape for the shell's $$), and
// waits in a way SIGTERM interrupts (a foreground sleep would defer the trap).
const daemonScript = `trap 'echo term > /out/term; exit 42' TERM
printf %s "$DB_PASSWORD" > /out/secret
echo "pid=$$$$ ppid=$PPID"
sleep 600 & wait`

var _ = Describe("a pod in daemon mode", Label("vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	It("keeps envexec as PID 1 and parent of the application, which gets SIGTERM and whose exit code is the container's", func(ctx SpecContext) {
		pod := appPod(f, "daemon", f.Ref("db", "password"), map[string]string{"vault-injector.io/daemon": "true"})
		pod.Spec.Containers[0].Args = []string{daemonScript}
		stored := f.create(ctx, pod)
		Expect(stored.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "ENVEXEC_DAEMON", Value: "true"}))
		p := f.start(ctx, stored)
		Eventually(ctx, marker(p, "app")).WithPolling(50 * time.Millisecond).Should(Equal(f.canary))

		By("checking the application is a child of envexec, which is PID 1")
		Eventually(ctx, func() string { stdout, _ := p.Logs("app"); return string(stdout) }).
			Should(MatchRegexp(`^pid=([2-9]|\d\d+) ppid=1\n$`))
		cmdline, _, err := p.Exec(ctx, "app", "/bin/cat", "/proc/1/cmdline")
		Expect(err).NotTo(HaveOccurred())
		// envexec re-executed itself with a clean environment, handing the original over
		// through a sealed memfd (docs/envexec.md).
		Expect(string(cmdline)).To(MatchRegexp("^/vault-injector/envexec\x00--environ-fd\x00[0-9]+\x00--\x00/bin/sh\x00"))

		By("checking no process but the application holds the value: not envexec, not an exec'd one")
		envexecEnv, _, err := p.Exec(ctx, "app", "/bin/cat", "/proc/1/environ")
		Expect(err).NotTo(HaveOccurred())
		Expect(envexecEnv).To(BeEmpty(), "envexec runs with an empty environment: no GODEBUG or SSL_CERT_FILE of the pod's reaches it")
		f.expectNoLeakAnywhere(ctx, p, map[string][]byte{"envexec's environment": envexecEnv}, f.canary)

		By("stopping the container as the kubelet does: SIGTERM to its PID 1")
		Expect(p.Signal("app", syscall.SIGTERM)).To(Succeed())
		Expect(p.Wait(ctx, "app")).To(Equal(42), "the application's exit code")
		data, err := os.ReadFile(filepath.Join(p.VolumeDir("out"), "term"))
		Expect(err).NotTo(HaveOccurred(), "the application trapped SIGTERM")
		Expect(string(data)).To(Equal("term\n"))
		_, stderr := p.Logs("app")
		Expect(string(stderr)).To(ContainSubstring(`"msg":"application exited"`))
		Expect(string(stderr)).To(ContainSubstring(`"exitCode":42`))
		expectNoLeak(f.canary, map[string][]byte{"envexec stderr": stderr})
	}, SpecTimeout(2*time.Minute))
})
