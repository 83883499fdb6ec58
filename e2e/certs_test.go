//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/e2e/framework"
)

const (
	// renewalCertValidity is short so a renewal comes during the spec: after two thirds
	// of it, with a third left to spread the new certificate.
	renewalCertValidity = 15 * time.Second
	// podsAfterRenewal is how many admissions must succeed after every replica served its
	// renewed certificate.
	podsAfterRenewal = 20
)

// A second release of the chart, in its default self-managed certificate mode, as the
// suite's but with a serving certificate that lives 15 seconds and in opt-in mode: it serves
// the namespaces labelled vault-injector.io/enabled=true, which here is only
// framework.RenewalNamespace (the suite's release excludes it). Its two replicas run on the
// node, and the apiserver calls them through their Service.
var _ = Describe("a release with a self-managed certificate", Ordered, Label("node", "certs"), func() {
	var (
		release framework.Chart
		name    string // the release's full name: Service, Secret and webhook configuration
	)

	BeforeAll(func(ctx SpecContext) {
		id := strings.ToLower(rand.Text()[:8])
		name = "vault-injector-renewal-" + id
		release = env.Node.Chart
		release.Release, release.Namespace = name, "injector-"+id

		By("installing it with the suite's values, a 15s certificate checked every second, in opt-in mode")
		data, err := os.ReadFile(env.Node.Chart.ValuesFile())
		Expect(err).NotTo(HaveOccurred())
		var values map[string]any
		Expect(json.Unmarshal(data, &values)).To(Succeed())
		values["webhook"] = map[string]any{"optIn": true}
		values["certificates"] = map[string]any{"selfManaged": map[string]any{
			"certValidity": renewalCertValidity.String(), "checkInterval": "1s",
		}}
		DeferCleanup(func(ctx SpecContext) {
			_, err := release.Run(ctx, "uninstall", release.Release, "--wait", "--ignore-not-found")
			Expect(err).NotTo(HaveOccurred())
			Expect(kubectl(ctx, "delete", "namespace", release.Namespace, "--ignore-not-found", "--wait=false")).Error().NotTo(HaveOccurred())
		})
		out, err := release.Install(ctx, values, 2*time.Minute)
		Expect(err).NotTo(HaveOccurred(), "%s\n%s", out, release.Report(ctx, env.Node.Kubectl))

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: framework.RenewalNamespace, Labels: map[string]string{"vault-injector.io/enabled": "true"},
		}}
		Expect(nodeCluster.Client.Create(ctx, ns)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) error { return client.IgnoreNotFound(nodeCluster.Client.Delete(ctx, ns)) })
	}, NodeTimeout(4*time.Minute))

	ReportAfterEach(func(r SpecReport) {
		if r.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			GinkgoWriter.Printf("\n===== the renewal release =====\n%s\n", release.Report(ctx, env.Node.Kubectl))
		}
	})

	// served is what each replica serves on a new connection that trusts only the
	// caBundle the webhook configuration holds now, for the Service's name.
	served := func(ctx SpecContext) (map[string]*x509.Certificate, error) {
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		if err := nodeCluster.Client.Get(ctx, client.ObjectKey{Name: name}, &cfg); err != nil {
			return nil, err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(cfg.Webhooks[0].ClientConfig.CABundle) {
			return nil, fmt.Errorf("webhook configuration %s has no caBundle", name)
		}
		return release.ReplicaCertificates(ctx, env.Node.Kubectl, roots, name+"."+release.Namespace+".svc", 9443)
	}
	// secret reads the certificate Secret the release's replicas keep.
	secret := func(ctx SpecContext) (*corev1.Secret, error) {
		var s corev1.Secret
		err := nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: release.Namespace, Name: name + "-certs"}, &s)
		return &s, err
	}

	It("makes its certificate, publishes its CA, and the apiserver's calls to it succeed", func(ctx SpecContext) {
		By("reading the certificate Secret it created")
		s, err := secret(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Type).To(Equal(corev1.SecretTypeTLS))
		Expect(s.Data).To(HaveKey(certs.KeyCAKey), "the CA's key stays in the Secret")
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKey{Name: name}, &cfg)).To(Succeed())
		Expect(cfg.Webhooks[0].ClientConfig.CABundle).To(Equal(s.Data[certs.KeyCABundle]), "the caBundle it published")

		By("checking each replica serves a certificate for the Service that verifies against that bundle")
		certsByPod, err := served(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(certsByPod).To(HaveLen(2), "both replicas")
		for pod, c := range certsByPod {
			Expect(c.CheckSignatureFrom(firstPEMCertificate(s.Data[certs.KeyCACert]))).To(Succeed(), "%s's certificate is signed by the Secret's CA", pod)
		}

		By("admitting a pod with a reference in the namespace it serves: this release mutates it")
		Expect(mutatedByRenewal(ctx, renewalPod("first"))).To(Succeed())
		Eventually(ctx, webhookLinesAbout(ctx, release, framework.RenewalNamespace+"/first")).WithPolling(time.Second).Should(ContainSubstring(`"injected pod"`), "a replica of this release logged the pod")
	}, SpecTimeout(time.Minute))

	It("renews its certificate before expiry while every admission keeps succeeding", func(ctx SpecContext) {
		before, err := served(ctx)
		Expect(err).NotTo(HaveOccurred())

		By(fmt.Sprintf("admitting a pod every 100ms until %d more succeeded after every replica served a new certificate", podsAfterRenewal))
		run := admitDuringRenewal(ctx, served, before, mutatedByRenewal)
		AddReportEntry("admissions during the renewal", fmt.Sprintf("%d pods admitted, %d of them after the renewal; %d failures",
			run.admitted, run.afterRenewal, len(run.failures)))
		Expect(run.failures).To(BeEmpty(), "every admission and every new TLS connection must succeed")
		Expect(run.renewed).To(HaveLen(len(before)), "every replica serves a new certificate")
		for pod, c := range run.renewed {
			Expect(c.NotAfter).To(BeTemporally(">", before[pod].NotAfter), "replica %s", pod)
			Expect(c.Issuer.String()).To(Equal(before[pod].Issuer.String()), "a new certificate of the same CA")
		}

		By("checking it was a renewal, and the Secret holds the certificate every replica serves")
		logs, err := release.WebhookLogs(ctx, env.Node.Kubectl)
		Expect(err).NotTo(HaveOccurred())
		Expect(logs).To(ContainSubstring("certificate due for renewal"))
		Eventually(ctx, func(g Gomega) {
			now, err := served(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			s, err := secret(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			for _, c := range now {
				g.Expect(c.Raw).To(Equal(firstPEMCertificate(s.Data[corev1.TLSCertKey]).Raw))
			}
		}).WithPolling(time.Second).Should(Succeed())
	}, SpecTimeout(2*time.Minute))
})

// renewalRun is what admitDuringRenewal saw.
type renewalRun struct {
	admitted     int
	afterRenewal int
	failures     []string
	// renewed is, by replica, the first certificate it served other than the one before;
	// complete once every replica renewed.
	renewed map[string]*x509.Certificate
}

// admitDuringRenewal admits a pod (a server-side dry run, which calls the webhook as a
// creation does) every 100ms and, after each, makes a new TLS connection to every replica
// trusting only the caBundle published at that moment. The apiserver keeps its
// connections to the webhook open, so the second part shows what any new apiserver
// connection would meet. It stops podsAfterRenewal pods after every replica served a new
// certificate, after 20 failures, or when the spec's time is up.
func admitDuringRenewal(ctx SpecContext, served func(SpecContext) (map[string]*x509.Certificate, error),
	before map[string]*x509.Certificate, admit func(SpecContext, *corev1.Pod) error,
) renewalRun {
	run := renewalRun{renewed: map[string]*x509.Certificate{}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; len(run.renewed) < len(before) || run.afterRenewal < podsAfterRenewal; i++ {
		select {
		case <-ctx.Done():
			return run
		case <-tick.C:
		}
		pod := renewalPod(fmt.Sprintf("during-renewal-%04d", i))
		switch err := admit(ctx, pod); {
		case err != nil:
			run.failures = append(run.failures, err.Error())
		case len(run.renewed) == len(before):
			run.admitted++
			run.afterRenewal++
		default:
			run.admitted++
		}
		now, err := served(ctx)
		if err != nil {
			run.failures = append(run.failures, fmt.Sprintf("after pod %s: %v", pod.Name, err))
		}
		for replica, c := range now {
			old, known := before[replica]
			if !known {
				run.failures = append(run.failures, "replica "+replica+" was not running before the renewal")
				continue
			}
			if _, done := run.renewed[replica]; !done && c.SerialNumber.Cmp(old.SerialNumber) != 0 {
				run.renewed[replica] = c
			}
		}
		if len(run.failures) >= 20 {
			return run
		}
	}
	return run
}

// renewalPod is the smallest pod the webhook mutates, in the namespace the renewal
// release serves: one container with a command and a reference. It is admitted by a dry
// run, never stored or run.
func renewalPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: framework.RenewalNamespace, Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "app", Image: env.Node.Images.App, Command: []string{"/testapp", "wait"},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "vault:secret/data/app/db#password"}},
			}},
		},
	}
}

// mutatedByRenewal admits pod by a server-side dry run and checks the renewal release
// (the only webhook for its namespace) mutated it.
func mutatedByRenewal(ctx SpecContext, pod *corev1.Pod) error {
	if err := nodeCluster.CreatePod(ctx, pod, client.DryRunAll); err != nil {
		return err
	}
	if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != "vault-injector-init" ||
		pod.Spec.Containers[0].Command[0] != "/vault-injector/envexec" {
		return fmt.Errorf("pod %s was not mutated", pod.Name)
	}
	return nil
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
