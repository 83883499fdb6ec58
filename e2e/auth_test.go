//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// Logging in without the Kubernetes auth method, chosen by annotation: AppRole and a Vault
// token from a Secret of the pod's namespace (mounted by the kubelet, never read by the
// webhook), and jwt with an audience of the pod's choosing within the platform's list.
// What the webhook denies is checked here at admission; the logins run on the real node
// below.
var _ = Describe("auth from annotations", Label("node", "vault", "auth"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	It("denies approle without its Secret, and an audience the platform did not allow", func(ctx SpecContext) {
		for _, tc := range []struct {
			annotations map[string]string
			want        string
		}{
			{
				map[string]string{"vault-injector.io/auth-method": "approle"},
				`annotation "vault-injector.io/auth-method": "approle" needs vault-injector.io/approle-secret`,
			},
			{
				map[string]string{"vault-injector.io/token-audience": "https://kubernetes.default.svc"},
				`annotation "vault-injector.io/token-audience": "https://kubernetes.default.svc" is not the webhook's --token-audience nor in its --allowed-token-audiences`,
			},
		} {
			Expect(denied(ctx, appPod(f, "app", f.Ref("db", "password"), tc.annotations))).To(ContainSubstring(tc.want))
		}
	}, SpecTimeout(time.Minute))
})

// The logins on the real node: for AppRole and token auth the kubelet mounts the keys of
// the Secret the pod names, and nothing else of it, where envexec reads them; for jwt it
// projects a token for the audience the pod names.
var _ = Describe("auth from annotations on the real node", Label("node", "vault", "auth"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// credentials stores data in a Secret of the spec's namespace, beside a key "other"
	// that must stay out of the container.
	credentials := func(ctx SpecContext, name string, data map[string]string) {
		GinkgoHelper()
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name},
			Data:       map[string][]byte{"other": []byte("stays out of the container")},
		}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		Expect(nodeCluster.Client.Create(ctx, s)).To(Succeed())
	}

	// running creates the pod and waits for the app's secret; it checks the credentials
	// reach no log, describe, event or exec session, and that of the Secret's keys only
	// mounted are in dir.
	running := func(ctx SpecContext, pod *corev1.Pod, dir string, mounted []string, credentials ...string) *corev1.Pod {
		GinkgoHelper()
		stored := f.createOnNode(ctx, pod)
		expectInjectedFrom(stored, "app")
		Expect(stored.Spec.Volumes).NotTo(ContainElement(HaveField("Name", ourTokenVolume)), "no ServiceAccount token projected for envexec")
		expectGotSecret(waitForApp(ctx, f.Namespace, pod.Name, "app"), 0)
		for _, key := range mounted {
			_, err := execOut(ctx, f, pod.Name, "app", "/testapp", "cat", dir+"/"+key)
			Expect(err).NotTo(HaveOccurred(), "%s/%s is mounted", dir, key)
		}
		_, err := execOut(ctx, f, pod.Name, "app", "/testapp", "cat", dir+"/other")
		Expect(err).To(MatchError(ContainSubstring("no such file or directory")), "the Secret's other key is not mounted")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"}, credentials...)
		return stored
	}

	It("logs in with AppRole from the Secret a pod names, mounting role_id and secret_id alone", func(ctx SpecContext) {
		roleID, secretID, err := env.Vault.PutAppRole(ctx, f.Namespace, f.Policy())
		Expect(err).NotTo(HaveOccurred())
		credentials(ctx, "app-approle", map[string]string{"role_id": roleID, "secret_id": secretID})
		pod := f.nodePod("approle")
		pod.Annotations = map[string]string{
			"vault-injector.io/auth-method":    "approle",
			"vault-injector.io/approle-secret": "app-approle",
		}
		running(ctx, pod, "/var/run/secrets/vault-injector-approle", []string{"role_id", "secret_id"}, roleID, secretID)
	}, SpecTimeout(3*time.Minute))

	It("logs in with jwt auth, the token projected for the audience the pod names", func(ctx SpecContext) {
		Expect(env.Vault.PutJWTRole(ctx, framework.NodeJWTAuthMount, f.ServiceAccount, f.Namespace, f.ServiceAccount, f.Policy())).To(Succeed())
		pod := f.nodePod("jwt")
		pod.Annotations = map[string]string{
			"vault-injector.io/auth-method":    "jwt",
			"vault-injector.io/auth-path":      framework.NodeJWTAuthMount,
			"vault-injector.io/token-audience": framework.JWTAudience,
		}
		stored := f.createOnNode(ctx, pod)
		Expect(stored.Spec.Volumes).To(ContainElement(HaveField("Projected.Sources", ContainElement(
			HaveField("ServiceAccountToken.Audience", framework.JWTAudience)))))
		expectGotSecret(waitForApp(ctx, f.Namespace, "jwt", "app"), 0)
		expectNoLeakOnNode(ctx, f, stored, []string{"app"})
	}, SpecTimeout(3*time.Minute))

	It("stops the container when the jwt role expects another audience than the token's", func(ctx SpecContext) {
		Expect(env.Vault.PutJWTRole(ctx, framework.NodeJWTAuthMount, f.ServiceAccount, f.Namespace, f.ServiceAccount, f.Policy())).To(Succeed())
		pod := f.nodePod("jwt-audience")
		pod.Annotations = map[string]string{
			"vault-injector.io/auth-method": "jwt",
			"vault-injector.io/auth-path":   framework.NodeJWTAuthMount,
		}
		failure := expectEnvexecStopped(ctx, f, f.createOnNode(ctx, pod), exitLogin)
		Expect(failure).To(HaveKey("error"))
	}, SpecTimeout(3*time.Minute))

	It("logs in with a Vault token from the Secret a pod names", func(ctx SpecContext) {
		token, err := env.Vault.CreateToken(ctx, f.Policy())
		Expect(err).NotTo(HaveOccurred())
		credentials(ctx, "app-vault-token", map[string]string{"token": token})
		pod := f.nodePod("token")
		pod.Annotations = map[string]string{
			"vault-injector.io/auth-method":  "token",
			"vault-injector.io/token-secret": "app-vault-token",
		}
		running(ctx, pod, "/var/run/secrets/vault-injector-vault-token", []string{"token"}, token)
	}, SpecTimeout(3*time.Minute))
})
