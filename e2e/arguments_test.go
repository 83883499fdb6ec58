//go:build e2e

package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// argvScript writes the arguments it received ($0 to $4 of sh -c), one per line, to
// /out/argv, and keeps running for exec.
const argvScript = `printf '%s\n' "$0" "$1" "$2" "$3" "$4" > /out/argv.tmp && mv /out/argv.tmp /out/argv; sleep 600`

var _ = Describe("a pod with references in its command and args", Label("vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	// argvPod has no reference in its env: only its command line holds them.
	argvPod := func(name string, command, args []string) *corev1.Pod {
		pod := appPod(f, name, "not a reference", nil)
		c := &pod.Spec.Containers[0]
		c.Command, c.Args = command, args
		return pod
	}

	It("runs the application with them resolved, one read per secret", func(ctx SpecContext) {
		user := "user-" + rand.Text()
		Expect(f.PutSecret(ctx, "cli", map[string]string{"user": user})).To(Succeed())
		command := []string{"/bin/sh", "-c", argvScript, "user=${" + f.Ref("cli", "user") + "}"}
		args := []string{
			f.Ref("db", "password"),
			"--url=postgres://${bao:secret/" + f.Namespace + "/cli#user}:${" + f.Ref("db", "password") + "}@db/app",
			"$(GREETING)",
			"${HOME}",
		}
		pod := argvPod("argv", command, args)
		pod.Annotations = map[string]string{"vault-injector.io/log-level": "debug"}
		stored := f.create(ctx, pod)

		By("checking the container was wrapped for its command line alone, which is stored as written")
		c := stored.Spec.Containers[0]
		Expect(c.Command).To(Equal(append([]string{"/vault-injector/envexec", "--"}, command...)))
		Expect(c.Args).To(Equal(args))

		p := f.start(ctx, stored)
		argvFile := filepath.Join(p.VolumeDir("out"), "argv")
		Eventually(ctx, func() (string, error) {
			data, err := os.ReadFile(argvFile)
			if err != nil && p.Exited("app") {
				_, stderr := p.Logs("app")
				return "", StopTrying("the application exited without writing its arguments; stderr:\n" + string(stderr))
			}
			return string(data), err
		}).WithPolling(50 * time.Millisecond).Should(Equal(strings.Join([]string{
			"user=" + user,
			f.canary,
			"--url=postgres://" + user + ":" + f.canary + "@db/app",
			"hello", // the kubelet's $(GREETING)
			"${HOME}",
		}, "\n") + "\n"))

		_, stderr := p.Logs("app")
		Expect(strings.Count(string(stderr), `"msg":"reading secret"`)).To(Equal(2), "one read per secret, however many references")
		Expect(string(stderr)).To(ContainSubstring(`"arguments":3`), "command[3], args[0] and args[1]")
		f.expectNoLeakAnywhere(ctx, p, nil, f.canary, user)
	}, SpecTimeout(2*time.Minute))

	It("is rejected at creation when a reference in them is malformed, naming the pod, container and entry", func(ctx SpecContext) {
		pod := argvPod("bad-argv",
			[]string{"/bin/sh", "-c", "exec app --key=${" + f.Ref("db", "password") + "}"},
			[]string{"--ok", "--password=${vault:" + f.SecretPath("db") + "}"})

		err := cluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`pod "` + f.Namespace + `/bad-argv": container "app": args[1]: invalid vault reference`))
		Expect(err.Error()).NotTo(ContainSubstring("command["), "the good reference in the command is not reported")

		err = cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the pod must not be stored, got %v", err)
	}, SpecTimeout(time.Minute))
})
