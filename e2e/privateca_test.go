//go:build e2e

package e2e

import (
	"os"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// Vaults with private CAs, served over real TLS at the node's address, to pods on the
// real node: env.Node.TLSVault's CA is the platform's (the chart's vault.caBundle),
// env.Node.PrivateVault's CA is trusted by nobody unless a pod names a Secret holding it
// (vault-injector.io/tls-secret).
var _ = Describe("a Vault with a private CA", Label("node", "vault", "tls"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// onVault gives the spec's tenant the same role, policy and secret on v as on the
	// suite's Vault, and returns the pod annotations that point envexec at v.
	onVault := func(ctx SpecContext, v framework.VaultClient) map[string]string {
		GinkgoHelper()
		Expect(v.PutReadPolicy(ctx, f.Policy(), f.SecretPath("*"))).To(Succeed())
		Expect(v.PutRole(ctx, framework.NodeAuthMount, framework.Role{
			Name: f.ServiceAccount, Namespaces: []string{f.Namespace},
			ServiceAccounts: []string{f.ServiceAccount}, Policies: []string{f.Policy()},
		})).To(Succeed())
		Expect(v.PutSecret(ctx, f.SecretPath("db"), map[string]string{"password": f.canary})).To(Succeed())
		return map[string]string{"vault-injector.io/vault-addr": v.Addr}
	}

	// caSecret stores the CA of v in a Secret of the spec's namespace, as cert-manager
	// would (ca.crt), beside a key that must stay out of the container.
	caSecret := func(ctx SpecContext, name string, v framework.VaultClient) {
		GinkgoHelper()
		ca, err := os.ReadFile(v.CAFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodeCluster.Client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name},
			Data:       map[string][]byte{"ca.crt": ca, "tls.key": []byte("stays out of the container")},
		})).To(Succeed())
	}

	// running creates the pod and expects its app to get the secret, with no leak.
	running := func(ctx SpecContext, annotations map[string]string) *corev1.Pod {
		GinkgoHelper()
		pod := f.nodePod("app")
		pod.Annotations = annotations
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		expectGotSecret(waitForApp(ctx, f.Namespace, pod.Name, "app"), 0)
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
		return stored
	}

	// caFiles lists the folder of the pod's CA in container "app", without the kubelet's
	// own entries of a Secret volume (..data and the timestamped folder it points to).
	caFiles := func(ctx SpecContext) []string {
		GinkgoHelper()
		out, err := execOut(ctx, f, "app", "app", "/testapp", "ls", "/var/run/secrets/vault-injector-ca")
		Expect(err).NotTo(HaveOccurred())
		names := strings.Fields(out)
		Expect(names).To(ContainElement("..data"), "a Secret volume the kubelet wrote")
		return slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, "..") })
	}

	It("trusts the platform's CA (the chart's vault.caBundle) in any namespace, beside the system roots", func(ctx SpecContext) {
		Expect(env.Node.TLSVault.Addr).To(HavePrefix("https://" + env.Node.IP + ":"))
		stored := running(ctx, onVault(ctx, env.Node.TLSVault))

		By("checking the stored pod carries the platform's CA as text, and no volume for it")
		ca, err := os.ReadFile(env.Node.TLSVault.CAFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(stored.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "ENVEXEC_CA_CERTS", Value: string(ca)}))
		Expect(stored.Spec.Volumes).NotTo(ContainElement(HaveField("Name", "vault-injector-ca")))
	}, SpecTimeout(2*time.Minute))

	It("trusts the CA in the Secret a pod names (tls-secret), mounting its ca.crt alone", func(ctx SpecContext) {
		annotations := onVault(ctx, env.Node.PrivateVault)
		caSecret(ctx, "vault-ca", env.Node.PrivateVault)
		annotations["vault-injector.io/tls-secret"] = "vault-ca"
		running(ctx, annotations)

		By("checking the app container sees ca.crt only, read-only for everyone")
		Expect(caFiles(ctx)).To(Equal([]string{"ca.crt"}))
		out, err := execOut(ctx, f, "app", "app", "/testapp", "stat", "/var/run/secrets/vault-injector-ca/ca.crt")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("/var/run/secrets/vault-injector-ca/ca.crt 444 0\n"))
	}, SpecTimeout(2*time.Minute))

	It("trusts a bank-vaults vault-tls-secret the same way", func(ctx SpecContext) {
		annotations := onVault(ctx, env.Node.PrivateVault)
		caSecret(ctx, "vault-tls", env.Node.PrivateVault)
		annotations["vault.security.banzaicloud.io/vault-tls-secret"] = "vault-tls"
		running(ctx, annotations)
		Expect(caFiles(ctx)).To(Equal([]string{"ca.crt"}))
	}, SpecTimeout(2*time.Minute))

	It("stops the container with an x509 error when nothing trusts Vault's CA", func(ctx SpecContext) {
		pod := f.nodePod("app")
		pod.Annotations = onVault(ctx, env.Node.PrivateVault)
		failure := expectEnvexecStopped(ctx, f, f.createOnNode(ctx, pod), exitUnreachable)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring("x509: certificate signed by unknown authority")))
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring(strings.TrimPrefix(env.Node.PrivateVault.Addr, "https://"))))
	}, SpecTimeout(2*time.Minute))
})
