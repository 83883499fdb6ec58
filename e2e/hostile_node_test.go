//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// The hostile tenant's attempts that need envexec to run, on the real node: what the
// kubelet gives the container (envFrom, projected tokens, PATH) is what envexec meets in
// a cluster. Each spec asserts envexec's refusal (exit code and message) or that the
// attempt changed nothing, and the leak check of the node.
var _ = Describe("a hostile tenant on the real node", Label("node", "hostile"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	It("gets envexec settings from a ConfigMap through envFrom refused by envexec, before it contacts anyone", func(ctx SpecContext) {
		addr, connections := countingListener(ctx, env.Node.IP)
		createConfigMap(ctx, nodeCluster, f, "skip-verify", map[string]string{"ENVEXEC_TLS_SKIP_VERIFY": "true"})
		createConfigMap(ctx, nodeCluster, f, "redirect", map[string]string{"ENVEXEC_VAULT_ADDR": "http://" + addr})
		smuggling := func(name string, configMaps ...string) *corev1.Pod {
			pod := f.nodePod(name)
			pod.Annotations = map[string]string{"vault-injector.io/env-sources": "true"}
			for _, cm := range configMaps {
				pod.Spec.Containers[0].EnvFrom = append(pod.Spec.Containers[0].EnvFrom, configMapEnv(cm, ""))
			}
			return pod
		}

		failure := expectEnvexecStopped(ctx, f, f.createOnNode(ctx, smuggling("smuggled", "skip-verify", "redirect")), exitSettings)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring("ENVEXEC_TLS_SKIP_VERIFY: was not set by the webhook")))

		By("ENVEXEC_VAULT_ADDR alone changes nothing: the webhook's, in env, wins over envFrom")
		stored := f.createOnNode(ctx, smuggling("redirect-only", "redirect"))
		expectGotSecret(waitForApp(ctx, f.Namespace, "redirect-only", "app"), 0)
		Expect(connections()).To(BeZero(), "nothing may connect to the address the ConfigMap named")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))

	It("gets references kept only in a Secret resolved by envexec with env-sources, and the pod left alone without it", func(ctx SpecContext) {
		createSecret(ctx, nodeCluster, f, "refs", map[string]string{"DB_PASSWORD": f.Ref("db", "password")})
		fromSecret := func(name string, annotations map[string]string) *corev1.Pod {
			pod := f.nodePod(name)
			pod.Annotations = annotations
			c := &pod.Spec.Containers[0]
			c.Env = envVars("GREETING", "hello")
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "refs"},
			}}}
			return pod
		}
		stored := f.createOnNode(ctx, fromSecret("opted-in", map[string]string{"vault-injector.io/env-sources": "true"}))
		expectInjectedFrom(stored, "app")
		expectGotSecret(waitForApp(ctx, f.Namespace, "opted-in", "app"), 0)

		By("without the annotation the pod is stored as sent: no envexec, and the app sees the reference")
		expectNotInjected(f.createOnNode(ctx, fromSecret("not-opted-in", nil)))
		Expect(waitForApp(ctx, f.Namespace, "not-opted-in", "app")).To(MatchRegexp(`(?m)^mismatch$`))

		By("the webhook never read the Secret: it wrapped the container without naming a variable")
		logs, err := env.Node.Chart.WebhookLogs(ctx, env.Node.Kubectl)
		Expect(err).NotTo(HaveOccurred())
		var lines []string
		for line := range strings.Lines(logs) {
			if strings.Contains(line, `"pod":"`+f.Namespace+`/opted-in"`) && strings.Contains(line, `"msg":"wrapped container"`) {
				lines = append(lines, line)
			}
		}
		Expect(lines).To(HaveLen(1))
		Expect(lines[0]).To(MatchRegexp(`"container":"app".*"variables":(null|\[\])`))
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))

	It("cannot reach envexec's Vault identity: token for the vault audience, mounted only where envexec runs, revoked after start", func(ctx SpecContext) {
		pod := f.nodePod("hygiene")
		pod.Annotations = map[string]string{"vault-injector.io/log-level": "debug"}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: "plain", Image: env.Node.Images.App, Command: []string{"/testapp", "wait"},
		})
		stored := f.createOnNode(ctx, pod)
		Expect(projectedAudiences(stored)).To(HaveKeyWithValue(ourTokenVolume, []string{framework.TokenAudience}))
		Expect(tokenMounters(stored)).To(Equal([]string{"app"}), "only the container running envexec mounts its token")
		Expect(stored.Spec.Containers[0].Command[0]).To(Equal(ourEnvexec))

		expectGotSecret(waitForApp(ctx, f.Namespace, "hygiene", "app"), 0)
		waitForApp(ctx, f.Namespace, "hygiene", "plain")
		_, err := execOut(ctx, f, "hygiene", "plain", "/testapp", "cat", ourTokenDir+"/token")
		Expect(err).To(MatchError(ContainSubstring("no such file or directory")), "the plain container has no Vault token")
		Expect(appLog(ctx, f, "hygiene")).To(ContainSubstring(`"msg":"vault token revoked"`))
		Expect(env.Vault.RoleTokens(ctx, framework.NodeAuthMount, f.ServiceAccount)).To(BeEmpty(), "no live token of the role")

		By("checking Vault would show a live token of the role: one the spec logs in for itself")
		jwt, err := nodeCluster.PodToken(ctx, stored, framework.TokenAudience, 600)
		Expect(err).NotTo(HaveOccurred())
		token, err := env.Vault.Login(ctx, framework.NodeAuthMount, f.ServiceAccount, jwt)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Vault.RoleTokens(ctx, framework.NodeAuthMount, f.ServiceAccount)).To(HaveLen(1))
		Expect(env.Vault.Revoke(ctx, token)).To(Succeed())
		expectNoLeakOnNode(ctx, f, stored, []string{"app", "plain"})
	}, SpecTimeout(3*time.Minute))

	It("cannot debug its injected pod onto envexec's token by relabelling it inject=false first", func(ctx SpecContext) {
		stored := f.createOnNode(ctx, f.nodePod("relabelled"))
		Expect(stored.Spec.Containers[0].Command[0]).To(Equal(ourEnvexec))

		By("relabelling the running pod: a PATCH the webhook never sees")
		Expect(nodeCluster.Client.Patch(ctx, stored, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"vault-injector.io/inject":"false"}}}`)))).To(Succeed())

		By("adding an ephemeral container that mounts envexec's token, as kubectl debug does")
		debug := stored.DeepCopy()
		debug.Spec.EphemeralContainers = append(debug.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: env.Node.Images.App, Command: []string{"/testapp", "cat", "/peek/token"},
				VolumeMounts: []corev1.VolumeMount{{Name: ourTokenVolume, MountPath: "/peek"}},
			},
		})
		err := nodeCluster.Client.SubResource("ephemeralcontainers").Update(ctx, debug)
		Expect(err).To(HaveOccurred(), "an ephemeral container mounting the token of a relabelled pod was added")
		Expect(err.Error()).To(ContainSubstring(`admission webhook "ephemeral-containers.vault-injector.io" denied the request: `))
		Expect(err.Error()).To(ContainSubstring(`container "debug": ephemeral container: it mounts the injector's volume ` + ourTokenVolume))
	}, SpecTimeout(3*time.Minute))

	It("gets no message quoting a secret used as PATH when the command is not in it", func(ctx SpecContext) {
		pod := f.nodePod("secret-path")
		c := &pod.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: "PATH", Value: f.Ref("db", "password")})
		c.Command = []string{"sh", "-c", "true"}

		failure := expectEnvexecStopped(ctx, f, f.createOnNode(ctx, pod), exitExec)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring(`command "sh" is not an executable file in PATH (1 entry searched)`)))
	}, SpecTimeout(3*time.Minute))

	It("is denied hostAliases and DNS servers that could resolve a host-name Vault address elsewhere", func(ctx SpecContext) {
		podRef := func(name string) string { return `pod "` + f.Namespace + "/" + name + `"` }
		byName := map[string]string{"vault-injector.io/vault-addr": env.Node.VaultByName}
		aliased := f.nodePod("aliased")
		aliased.Annotations = byName
		aliased.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.66", Hostnames: []string{framework.HostName}}}
		Expect(deniedBy(ctx, nodeCluster, aliased)).To(ContainSubstring(
			podRef("aliased") + ": hostAliases maps the Vault host " + framework.HostName + " to 10.0.0.66"))
		ownDNS := f.nodePod("own-dns")
		ownDNS.Annotations = byName
		ownDNS.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.53"}}
		Expect(deniedBy(ctx, nodeCluster, ownDNS)).To(ContainSubstring(
			podRef("own-dns") + ": dnsConfig nameservers and searches could resolve the Vault host " + framework.HostName + " elsewhere"))

		By("without them the host-name address reaches the same Vault through the cluster DNS")
		pod := f.nodePod("by-name")
		pod.Annotations = byName
		stored := f.createOnNode(ctx, pod)
		expectGotSecret(waitForApp(ctx, f.Namespace, "by-name", "app"), 0)
		var running corev1.Pod
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(stored), &running)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(env.Node.Dir, "dnsmasq.log"))).To(
			ContainSubstring("query[A] "+framework.HostName+" from "+running.Status.PodIP), "envexec asked the cluster DNS")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})

		By("with an IP-literal Vault, hostAliases are allowed")
		aliased.Name, aliased.Annotations = "aliased-ip-vault", nil
		f.createOnNode(ctx, aliased)
	}, SpecTimeout(3*time.Minute))

	It("cannot turn envexec's Go runtime or trust roots with GODEBUG and SSL_CERT_FILE, which reach the application", func(ctx SpecContext) {
		const godebug = "http2debug=2,inittrace=1"
		stored, got := f.runNodeEnvPod(ctx, f.nodeEnvPod("godebug", envVars(
			"DB_PASSWORD", f.Ref("db", "password"), "GODEBUG", godebug, "SSL_CERT_FILE", "/nonexistent",
		), map[string]string{"vault-injector.io/log-level": "debug"}))

		Expect(got).To(HaveKeyWithValue("DB_PASSWORD", f.canary))
		Expect(got).To(HaveKeyWithValue("GODEBUG", godebug))
		Expect(got).To(HaveKeyWithValue("SSL_CERT_FILE", "/nonexistent"))
		log := appLog(ctx, f, "godebug")
		Expect(log).To(ContainSubstring(`"msg":"vault token revoked"`), "envexec talked to Vault")
		Expect(log).NotTo(ContainSubstring("http2:"))
		// inittrace makes each Go process trace its package inits once. Two Go programs
		// start in the container: envexec's first stage, with the container's environment
		// (it reads none of it), and the test app, which gets GODEBUG as the pod asked. A
		// package both init traces twice; one only envexec has (net/http: the test app has
		// no HTTP) once; a second stage of envexec that saw GODEBUG would make it twice.
		traces := initTraces([]byte(log))
		Expect(traces).To(HaveKeyWithValue("net/http", 1), "only envexec's first stage saw GODEBUG")
		Expect(traces).To(HaveKeyWithValue("os", 2), "envexec's first stage and the application saw GODEBUG")
		Expect(traces).To(HaveEach(BeNumerically("<=", 2)), "no third Go process saw GODEBUG")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))
})
