//go:build e2e

package e2e

import (
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// Vaults with private CAs, served over real TLS: env.TLSVault's CA is the platform's
// (the suite's webhook runs with --vault-ca-file), env.PrivateVault's CA is trusted by
// nobody unless a pod names a Secret holding it (vault-injector.io/tls-secret).
var _ = Describe("a Vault with a private CA", Label("vault", "tls"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	// onVault gives the spec's tenant the same role, policy and secret on v as on the
	// suite's Vault, and returns the pod annotations that point envexec at v.
	onVault := func(ctx SpecContext, v framework.VaultClient) map[string]string {
		GinkgoHelper()
		Expect(v.PutReadPolicy(ctx, f.Policy(), f.SecretPath("*"))).To(Succeed())
		Expect(v.PutRole(ctx, framework.KubernetesAuthMount, framework.Role{
			Name: f.ServiceAccount, Namespaces: []string{f.Namespace},
			ServiceAccounts: []string{f.ServiceAccount}, Policies: []string{f.Policy()},
		})).To(Succeed())
		Expect(v.PutSecret(ctx, "secret/data/"+f.Namespace+"/db", map[string]string{"password": f.canary})).To(Succeed())
		return map[string]string{"vault-injector.io/vault-addr": v.Addr}
	}

	// caSecret stores the CA of v in a Secret of the spec's namespace, as cert-manager
	// would (ca.crt), beside a key that must stay out of the container.
	caSecret := func(ctx SpecContext, name string, v framework.VaultClient) {
		GinkgoHelper()
		ca, err := os.ReadFile(v.CAFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(cluster.Client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name},
			Data:       map[string][]byte{"ca.crt": ca, "tls.key": []byte("stays out of the container")},
		})).To(Succeed())
	}

	running := func(ctx SpecContext, pod *corev1.Pod) *framework.Pod {
		GinkgoHelper()
		p := f.start(ctx, f.create(ctx, pod))
		Eventually(ctx, appMarker(p)).WithPolling(50 * time.Millisecond).Should(Equal(f.canary))
		return p
	}

	It("trusts the platform's CA (--vault-ca-file) in any namespace, beside the system roots", func(ctx SpecContext) {
		Expect(env.TLSVault.Addr).To(HavePrefix("https://"))
		stored := f.create(ctx, appPod(f, "app", f.Ref("db", "password"), onVault(ctx, env.TLSVault)))

		By("checking the stored pod carries the platform's CA as text, and no volume for it")
		ca, err := os.ReadFile(env.TLSVault.CAFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(stored.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "ENVEXEC_CA_CERTS", Value: string(ca)}))
		Expect(stored.Spec.Volumes).NotTo(ContainElement(HaveField("Name", "vault-injector-ca")))

		p := f.start(ctx, stored)
		Eventually(ctx, appMarker(p)).WithPolling(50 * time.Millisecond).Should(Equal(f.canary))
	}, SpecTimeout(2*time.Minute))

	It("trusts the CA in the Secret a pod names (tls-secret), mounting its ca.crt alone", func(ctx SpecContext) {
		annotations := onVault(ctx, env.PrivateVault)
		caSecret(ctx, "vault-ca", env.PrivateVault)
		annotations["vault-injector.io/tls-secret"] = "vault-ca"
		p := running(ctx, appPod(f, "app", f.Ref("db", "password"), annotations))

		By("checking the app container sees ca.crt only, read-only for everyone")
		stdout, _, err := p.Exec(ctx, "app", "/bin/ls", "/var/run/secrets/vault-injector-ca")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stdout)).To(Equal("ca.crt\n"))
	}, SpecTimeout(2*time.Minute))

	It("trusts a bank-vaults vault-tls-secret the same way", func(ctx SpecContext) {
		annotations := onVault(ctx, env.PrivateVault)
		caSecret(ctx, "vault-tls", env.PrivateVault)
		annotations["vault.security.banzaicloud.io/vault-tls-secret"] = "vault-tls"
		running(ctx, appPod(f, "app", f.Ref("db", "password"), annotations))
	}, SpecTimeout(2*time.Minute))

	It("stops the container with an x509 error when nothing trusts Vault's CA", func(ctx SpecContext) {
		p := f.start(ctx, f.create(ctx, appPod(f, "app", f.Ref("db", "password"), onVault(ctx, env.PrivateVault))))
		Expect(p.Wait(ctx, "app")).To(Equal(exitUnreachable))
		stdout, stderr := p.Logs("app")
		Expect(stdout).To(BeEmpty(), "the application must not have started")
		expectNoLeak(f.canary, map[string][]byte{"envexec stderr": stderr})
		failure := envexecFailure(stderr)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring("x509: certificate signed by unknown authority")))
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring(strings.TrimPrefix(env.PrivateVault.Addr, "https://"))))
	}, SpecTimeout(2*time.Minute))
})
