package webhook_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/tools"
	"github.com/vault-injector/vault-injector/webhook"
)

// issue signs a certificate for usage with the CA and writes it and its key as PEM files
// name.crt and name.key in dir, returning their paths.
func (ca *testCA) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage, ips ...net.IP) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt, k := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFileAtomic(t, crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFileAtomic(t, k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return crt, k
}

// TestClientCAWithAPIServer configures a real kube-apiserver as docs/install.md says (an
// AdmissionConfiguration naming a kubeconfig whose user, named after the webhook, holds a
// client certificate) and runs the webhook with --client-ca-file: while the webhook trusts
// another CA, the apiserver's calls fail and the pod is refused (failurePolicy Fail); once
// it trusts the apiserver's CA, pods are mutated.
func TestClientCAWithAPIServer(t *testing.T) {
	dir := t.TempDir()
	servingCA, apiserverCA, otherCA := newTestCA(t, "serving CA"), newTestCA(t, "apiserver client CA"), newTestCA(t, "someone else")
	port := freePort(t)
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	certDir := filepath.Join(dir, "serving")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	servingCA.issue(t, certDir, "tls", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	clientCrt, clientKey := apiserverCA.issue(t, dir, "apiserver-webhook-client", x509.ExtKeyUsageClientAuth)

	// The two files of docs/install.md; a webhook called by URL is named host:port.
	kubeconfig := filepath.Join(dir, "webhooks.kubeconfig")
	writeFileAtomic(t, kubeconfig, []byte("apiVersion: v1\nkind: Config\nusers:\n  - name: "+hostPort+
		"\n    user:\n      client-certificate: "+clientCrt+"\n      client-key: "+clientKey+"\n"))
	admission := filepath.Join(dir, "admission.yaml")
	writeFileAtomic(t, admission, []byte(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: MutatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: `+kubeconfig+"\n"))

	assets, err := tools.KubebuilderAssets(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	env.ControlPlane.GetAPIServer().Configure().Set("admission-control-config-file", admission)
	restCfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kube, err := client.New(restCfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	caFile := filepath.Join(dir, "client-ca.crt")
	writeFileAtomic(t, caFile, otherCA.pem)
	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort, cfg.CertDir, cfg.ClientCAFile = "127.0.0.1", port, certDir, caFile
	cfg.ProbeAddr, cfg.MetricsAddr = "127.0.0.1:"+strconv.Itoa(freePort(t)), "127.0.0.1:"+strconv.Itoa(freePort(t))
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(t.Context(), cfg, logr.Discard()) }()
	waitFor(t, done, "readyz", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "ok" })

	ctx := t.Context()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "default"}},
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "vault-injector"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name:                    "pods.vault-injector.io",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://" + hostPort + webhook.MutatePath), CABundle: servingCA.pem},
				Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
				NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "shop"}},
				FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1"},
				TimeoutSeconds:          ptr.To[int32](10),
			}},
		},
	} {
		if err := kube.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			// envtest runs no ServiceAccount admission, which would set it.
			Spec: corev1.PodSpec{ServiceAccountName: "default", Containers: []corev1.Container{{
				Name: "api", Image: "example/api:1", Command: []string{"/api"},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "vault:secret/data/db#password"}},
			}}},
		}
	}

	// The webhook configuration reaches the apiserver's informers within moments; until
	// then pods are created without a call.
	var refused error
	for i, deadline := 0, time.Now().Add(30*time.Second); refused == nil && time.Now().Before(deadline); i++ {
		if refused = kube.Create(ctx, pod("refused-"+strconv.Itoa(i))); refused == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// How the apiserver words the refused handshake varies (TLS 1.3 reports it on the
	// first read): that no review reached the handler says it was refused.
	if refused == nil || !strings.Contains(refused.Error(), "failed calling webhook") {
		t.Fatalf("apiserver certificate from a CA the webhook does not trust: err = %v, want the call refused", refused)
	}
	if n := admissionRequests(t, cfg.MetricsAddr); n != 0 {
		t.Fatalf("%d reviews reached the handler without a trusted client certificate", n)
	}

	writeFileAtomic(t, caFile, append(otherCA.pem, apiserverCA.pem...))
	admitted := pod("admitted")
	if err := kube.Create(ctx, admitted); err != nil {
		t.Fatalf("apiserver certificate from the trusted CA: %v", err)
	}
	if len(admitted.Spec.InitContainers) == 0 || admitted.Spec.InitContainers[0].Name != injector.InitContainerName {
		t.Errorf("stored pod was not mutated: init containers %v", admitted.Spec.InitContainers)
	}
	if n := admissionRequests(t, cfg.MetricsAddr); n != 1 {
		t.Errorf("%d reviews handled, want the one mutated pod", n)
	}
}

// admissionRequests sums the handled reviews of all outcomes from the metrics endpoint.
func admissionRequests(t *testing.T, addr string) int {
	t.Helper()
	total := 0
	for _, line := range strings.Split(get(t, "http://"+addr+"/metrics"), "\n") {
		if rest, ok := strings.CutPrefix(line, "vault_injector_admission_requests_total{"); ok {
			_, value, _ := strings.Cut(rest, "} ")
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			total += n
		}
	}
	return total
}
