//go:build e2e

package e2e

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/loopback"
)

// The self-managed webhook's settings. Its injector image names no real image (its pods
// are stored, never run); it marks the pods this webhook mutated, as opposed to the suite's.
const (
	selfManagedImage   = "vault-injector:self-managed"
	selfManagedService = "vault-injector"
	selfManagedSecret  = "vault-injector-certs"
	// selfManagedCertValidity is short so a renewal comes during the spec: after two
	// thirds of it, with a third left to spread the new certificate.
	selfManagedCertValidity = 15 * time.Second
	// podsAfterRenewal is how many admissions must succeed after the webhook served its
	// renewed certificate.
	podsAfterRenewal = 20
	// selectorLabel marks the namespaces a test webhook configuration selects.
	selectorLabel = framework.OtherWebhookLabel
)

var _ = Describe("a webhook with a self-managed certificate", Ordered, Label("certs"), func() {
	var (
		hook      *framework.SelfManagedWebhook
		webhookNS string // the webhook's own namespace, which holds its Secret
		appNS     string // the only namespace it serves
	)

	BeforeAll(func(ctx SpecContext) {
		id := strings.ToLower(rand.Text()[:10])
		webhookNS, appNS = "injector-"+id, "certs-"+id
		// The suite's webhook skips namespaces with selectorLabel: two injectors must not
		// serve one namespace, as each refuses the other's parts as an imitation.
		configName := "self-managed-" + id

		By("creating the webhook's namespace and ServiceAccount with the chart's rights, and a namespace for it to serve")
		createLabelledNamespace(ctx, webhookNS, nil)
		createLabelledNamespace(ctx, appNS, map[string]string{selectorLabel: configName})
		cleanup, err := framework.CreateSelfManagedAccount(ctx, cluster, framework.SelfManagedAccount{
			Namespace: webhookNS, ServiceAccount: "vault-injector", Secret: selfManagedSecret, WebhookConfig: configName,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cleanup)
		kubeconfig, err := framework.ServiceAccountKubeconfig(ctx, cluster, webhookNS, "vault-injector", time.Hour)
		Expect(err).NotTo(HaveOccurred())

		By("registering it by URL, with no caBundle, for that namespace only, failing closed")
		addr, err := loopback.FreeAddr(ctx)
		Expect(err).NotTo(HaveOccurred())
		cfg := framework.URLWebhookConfiguration(configName, framework.WebhookURL(addr),
			&metav1.LabelSelector{MatchLabels: map[string]string{selectorLabel: configName}})
		Expect(cluster.Client.Create(ctx, cfg)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) error { return client.IgnoreNotFound(cluster.Client.Delete(ctx, cfg)) })

		By("starting it with --cert-mode=self-managed")
		logPath := filepath.Join(filepath.Dir(env.WebhookLog), configName+".log")
		hook, err = framework.StartSelfManagedWebhook(ctx, cluster, framework.SelfManagedOptions{
			Webhook: framework.WebhookOptions{
				Binary: env.Binaries.Webhook, InjectorImage: selfManagedImage,
				VaultAddr: env.Vault.Addr, Kubeconfig: kubeconfig, LogPath: logPath,
			},
			Addr: addr, Namespace: webhookNS, Secret: selfManagedSecret, ServiceName: selfManagedService, WebhookConfig: configName,
			CAValidity: time.Hour, CertValidity: selfManagedCertValidity, CheckInterval: time.Second,
		})
		Expect(err).NotTo(HaveOccurred(), "self-managed webhook log:\n%s", readTail(logPath, 8<<10))
		DeferCleanup(hook.Stop)
	}, NodeTimeout(2*time.Minute))

	ReportAfterEach(func(r SpecReport) {
		if r.Failed() && hook != nil {
			GinkgoWriter.Printf("\n===== self-managed webhook log (end) =====\n%s\n", readTail(hook.LogPath, 16<<10))
		}
	})

	It("makes its certificate, publishes its CA, and the apiserver's calls to it succeed", func(ctx SpecContext) {
		By("reading the certificate Secret it created")
		var secret corev1.Secret
		Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: webhookNS, Name: selfManagedSecret}, &secret)).To(Succeed())
		Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
		Expect(secret.Data).To(HaveKey(certs.KeyCAKey), "the CA's key stays in the Secret")
		Expect(hook.CABundle(ctx)).To(Equal(secret.Data[certs.KeyCABundle]), "the caBundle it published")

		By("checking the certificate it serves verifies against that bundle, for 127.0.0.1 and the Service")
		served, err := hook.ServedCertificate(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(served.VerifyHostname(selfManagedService + "." + webhookNS + ".svc")).To(Succeed())
		Expect(served.CheckSignatureFrom(firstPEMCertificate(secret.Data[certs.KeyCACert]))).To(Succeed(), "signed by the Secret's CA")

		By("creating a pod with a reference in the namespace it serves")
		pod := selfManagedPod(appNS, "first")
		Expect(cluster.Client.Create(ctx, pod)).To(Succeed())
		stored := &corev1.Pod{}
		Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), stored)).To(Succeed())
		Expect(mutatedBySelfManaged(stored)).To(BeTrue(), "stored pod: %+v", stored.Spec)
	}, SpecTimeout(time.Minute))

	It("renews its certificate before expiry while every admission keeps succeeding", func(ctx SpecContext) {
		first, err := hook.ServedCertificate(ctx)
		Expect(err).NotTo(HaveOccurred())

		By(fmt.Sprintf("creating a pod every 100ms until %d more succeeded after the served certificate changed", podsAfterRenewal))
		run := admitDuringRenewal(ctx, hook, appNS, first)
		AddReportEntry("admissions during the renewal", fmt.Sprintf("%d pods admitted, %d of them after the renewal; %d failures",
			run.admitted, run.afterRenewal, len(run.failures)))
		Expect(run.failures).To(BeEmpty(), "every admission and every new TLS connection must succeed")
		Expect(run.renewed).NotTo(BeNil(), "the served certificate did not change")
		AddReportEntry("served serial", fmt.Sprintf("%x before, %x after", first.SerialNumber, run.renewed.SerialNumber))
		Expect(run.renewed.NotAfter).To(BeTemporally(">", first.NotAfter))
		Expect(run.renewed.Issuer.String()).To(Equal(first.Issuer.String()), "a new certificate of the same CA")

		By("checking it was a renewal, and the Secret holds the certificate it serves")
		Expect(hook.Log()).To(ContainSubstring("certificate due for renewal"))
		Eventually(ctx, func(g Gomega) {
			var secret corev1.Secret
			g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: webhookNS, Name: selfManagedSecret}, &secret)).To(Succeed())
			served, err := hook.ServedCertificate(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(served.Raw).To(Equal(firstPEMCertificate(secret.Data[corev1.TLSCertKey]).Raw))
		}).Should(Succeed())
	}, SpecTimeout(2*time.Minute))
})

// renewalRun is what admitDuringRenewal saw.
type renewalRun struct {
	admitted     int
	afterRenewal int
	failures     []string
	// renewed is the first served certificate other than the one served before.
	renewed *x509.Certificate
}

// admitDuringRenewal creates a pod every 100ms and, after each, makes a new TLS
// connection to the webhook trusting only the caBundle published at that moment. The
// apiserver keeps its connection to the webhook open, so the second part shows what any
// new apiserver connection would meet. It stops podsAfterRenewal pods after the served
// certificate changed, after 20 failures, or when the spec's time is up.
func admitDuringRenewal(ctx SpecContext, hook *framework.SelfManagedWebhook, namespace string, before *x509.Certificate) renewalRun {
	var run renewalRun
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; run.renewed == nil || run.afterRenewal < podsAfterRenewal; i++ {
		select {
		case <-ctx.Done():
			return run
		case <-tick.C:
		}
		pod := selfManagedPod(namespace, fmt.Sprintf("during-renewal-%04d", i))
		switch err := cluster.Client.Create(ctx, pod); {
		case err != nil:
			run.failures = append(run.failures, fmt.Sprintf("create pod %s: %v", pod.Name, err))
		case !mutatedBySelfManaged(pod):
			run.failures = append(run.failures, fmt.Sprintf("pod %s was not mutated by the self-managed webhook", pod.Name))
		case run.renewed != nil:
			run.admitted++
			run.afterRenewal++
		default:
			run.admitted++
		}
		served, err := hook.ServedCertificate(ctx)
		switch {
		case err != nil:
			run.failures = append(run.failures, fmt.Sprintf("after pod %s: %v", pod.Name, err))
		case run.renewed == nil && served.SerialNumber.Cmp(before.SerialNumber) != 0:
			run.renewed = served
		}
		if len(run.failures) >= 20 {
			return run
		}
	}
	return run
}

// selfManagedPod is the smallest pod the webhook mutates: one container with a command
// and a reference. It is only admitted, never run. It names its ServiceAccount because
// envtest runs without the ServiceAccount admission plugin, which in a cluster sets
// "default" before webhooks are called, and the injected projected token needs one.
func selfManagedPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "app", Image: "example.com/app:1.0", Command: []string{"/app"},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "vault:secret/data/app/db#password"}},
			}},
		},
	}
}

// mutatedBySelfManaged tells whether pod, as the apiserver returned it, got its envexec
// from the self-managed webhook.
func mutatedBySelfManaged(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == "vault-injector-init" {
			return c.Image == selfManagedImage && strings.HasPrefix(pod.Spec.Containers[0].Command[0], "/vault-injector/")
		}
	}
	return false
}

// createLabelledNamespace creates a namespace with labels, and deletes it and its pods
// when the spec (or the Ordered container) ends.
func createLabelledNamespace(ctx SpecContext, name string, labels map[string]string) {
	GinkgoHelper()
	Expect(cluster.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(cluster.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(name))).To(Succeed())
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		Expect(client.IgnoreNotFound(cluster.Client.Delete(ctx, ns))).To(Succeed())
	})
}

// firstPEMCertificate reads the first certificate of a PEM bundle.
func firstPEMCertificate(data []byte) *x509.Certificate {
	GinkgoHelper()
	block, _ := pem.Decode(data)
	Expect(block).NotTo(BeNil(), "no PEM data")
	cert, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return cert
}
