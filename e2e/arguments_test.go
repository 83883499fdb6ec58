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
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// argvFile is where testapp argv writes the arguments it received, one a line.
const argvFile = "/out/argv"

// These run on the real node: the kubelet expands $(VAR) in the command line it gets from
// the stored pod, and envexec resolves the references in what the kubelet started.
var _ = Describe("a pod with references in its command and args", Label("node", "vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// argvPod has no reference in its env: only its command line holds them. /out is an
	// emptyDir for testapp argv's file.
	argvPod := func(name string, command, args []string) *corev1.Pod {
		pod := f.nodeEnvPod(name, envVars("DB_PASSWORD", "not a reference", "GREETING", "hello"), nil)
		c := &pod.Spec.Containers[0]
		c.Command, c.Args = command, args
		return pod
	}

	It("runs the application with them resolved, one read per secret", func(ctx SpecContext) {
		user := "user-" + rand.Text()
		Expect(f.PutSecret(ctx, "cli", map[string]string{"user": user})).To(Succeed())
		command := []string{"/testapp", "argv", argvFile, "user=${" + f.Ref("cli", "user") + "}"}
		args := []string{
			f.Ref("db", "password"),
			"--url=postgres://${bao:secret/" + f.Namespace + "/cli#user}:${" + f.Ref("db", "password") + "}@db/app",
			"$(GREETING)",
			"${HOME}",
		}
		pod := argvPod("argv", command, args)
		pod.Annotations = map[string]string{"vault-injector.io/log-level": "debug"}
		stored := f.createOnNode(ctx, pod)

		By("checking the container was wrapped for its command line alone, which is stored as written")
		c := stored.Spec.Containers[0]
		Expect(c.Command).To(Equal(append([]string{"/vault-injector/envexec", "--"}, command...)))
		Expect(c.Args).To(Equal(args))

		waitForApp(ctx, f.Namespace, "argv", "app")
		got, err := execOut(ctx, f, "argv", "app", "/testapp", "cat", argvFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(strings.Join([]string{
			"user=" + user,
			f.canary,
			"--url=postgres://" + user + ":" + f.canary + "@db/app",
			"hello", // the kubelet's $(GREETING)
			"${HOME}",
		}, "\n") + "\n"))

		log := appLog(ctx, f, "argv")
		Expect(strings.Count(log, `"msg":"reading secret"`)).To(Equal(2), "one read per secret, however many references")
		Expect(log).To(ContainSubstring(`"arguments":3`), "command[3], args[0] and args[1]")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"}, user)
	}, SpecTimeout(3*time.Minute))

	It("is rejected at creation when a reference in them is malformed, naming the pod, container and entry", func(ctx SpecContext) {
		pod := argvPod("bad-argv",
			[]string{"/testapp", "argv", argvFile, "--key=${" + f.Ref("db", "password") + "}"},
			[]string{"--ok", "--password=${vault:" + f.SecretPath("db") + "}"})

		err := nodeCluster.Client.Create(ctx, pod)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`pod "` + f.Namespace + `/bad-argv": container "app": args[1]: invalid vault reference`))
		Expect(err.Error()).NotTo(ContainSubstring("command["), "the good reference in the command is not reported")

		err = nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the pod must not be stored, got %v", err)
	}, SpecTimeout(time.Minute))
})
