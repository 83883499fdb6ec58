package webhook_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/webhook"
)

// TestServeSelfManaged starts the server in self-managed certificate mode against a real
// apiserver: before serving it creates its certificate, stores it in a Secret, and writes
// the CA into its webhook configuration, and the served certificate verifies against that
// CA for the Service's name.
func TestServeSelfManaged(t *testing.T) {
	kube, kubeconfig := startEnvtest(t)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "infra"}}); err != nil {
		t.Fatal(err)
	}
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-injector"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pods.vault-injector.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "infra", Name: "vault-injector", Path: ptr.To(webhook.MutatePath)}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			// Matches nothing, so the apiserver never calls this test's unreachable Service.
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}},
		}},
	}
	if err := kube.Create(ctx, hook); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort, cfg.CertDir = "127.0.0.1", freePort(t), t.TempDir()
	cfg.ProbeAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.MetricsAddr = "0"
	cfg.ClusterEnv = map[string]string{"KUBECONFIG": path} // as ParseWebhook reads it
	cfg.Certs = config.Certs{
		Mode: config.CertModeSelfManaged, Secret: "vault-injector-certs", WebhookConfigName: "vault-injector",
		ServiceName: "vault-injector", Namespace: "infra",
		CAValidity: 87600 * time.Hour, CertValidity: 8760 * time.Hour, CheckInterval: time.Hour,
	}
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(ctx, cfg, logr.Discard()) }()
	waitFor(t, done, "readyz", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "ok" })

	var secret corev1.Secret
	if err := kube.Get(ctx, types.NamespacedName{Namespace: "infra", Name: "vault-injector-certs"}, &secret); err != nil {
		t.Fatalf("certificate Secret: %v", err)
	}
	if err := kube.Get(ctx, types.NamespacedName{Name: "vault-injector"}, hook); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(hook.Webhooks[0].ClientConfig.CABundle) {
		t.Fatal("the webhook configuration has no caBundle")
	}
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "vault-injector.infra.svc", MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort)))
	if err != nil {
		t.Fatalf("served certificate does not verify against the published caBundle: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Error(err)
	}
}
