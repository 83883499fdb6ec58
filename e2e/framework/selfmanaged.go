package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// SelfManagedOptions configures a webhook process in --cert-mode=self-managed: it makes
// its own CA and serving certificate, keeps them in a Secret, writes the CA into its
// webhook configuration and renews both, as the chart's default mode does in a cluster.
type SelfManagedOptions struct {
	// Webhook holds what every webhook process takes (binary, envexec path, injector
	// image, Vault address, log path). Its Serving is ignored, and its Kubeconfig is
	// required: the webhook keeps its certificate in the cluster.
	Webhook WebhookOptions
	// Addr is the loopback host:port to serve on (loopback.FreeAddr). envtest has no
	// Service network, so the webhook configuration calls WebhookURL(Addr), and the
	// certificate covers the host through --cert-extra-sans.
	Addr string
	// Namespace, Secret, ServiceName and WebhookConfig are --namespace, --cert-secret,
	// --service-name and --webhook-config-name.
	Namespace, Secret, ServiceName, WebhookConfig string
	// CAValidity, CertValidity and CheckInterval are --ca-validity, --cert-validity and
	// --cert-check-interval; zero keeps the binary's default.
	CAValidity, CertValidity, CheckInterval time.Duration
}

// SelfManagedWebhook is a running webhook process with a self-managed certificate.
type SelfManagedWebhook struct {
	*Webhook
	// URL is where the apiserver calls it.
	URL string

	serving    WebhookServing
	configName string
	cluster    *Cluster
}

// WebhookURL is the clientConfig.url of a webhook serving on addr.
func WebhookURL(addr string) string {
	return "https://" + addr + WebhookPath
}

// URLWebhookConfiguration is MutatingWebhookConfiguration reaching the webhook by url
// instead of through a Service, for the namespaces namespaces selects. It has no
// caBundle: a self-managed webhook writes it.
func URLWebhookConfiguration(name, url string, namespaces *metav1.LabelSelector) *admissionregistrationv1.MutatingWebhookConfiguration {
	cfg := MutatingWebhookConfiguration()
	cfg.Name = name
	cfg.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	cfg.Webhooks[0].NamespaceSelector = namespaces
	return cfg
}

// StartSelfManagedWebhook starts the binary in self-managed mode and returns once it
// serves a certificate that verifies, for the host of its URL, against the caBundle it
// published in o.WebhookConfig: what the apiserver checks on every new connection. Its
// certificate folder is created next to the log.
func StartSelfManagedWebhook(ctx context.Context, c *Cluster, o SelfManagedOptions) (*SelfManagedWebhook, error) {
	if len(o.Webhook.Kubeconfig) == 0 {
		return nil, errors.New("self-managed webhook: a kubeconfig is required")
	}
	host, portText, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("self-managed webhook address: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("self-managed webhook port: %w", err)
	}
	w := &SelfManagedWebhook{
		URL: WebhookURL(o.Addr), configName: o.WebhookConfig, cluster: c,
		serving: WebhookServing{Host: host, Port: port, CertDir: o.Webhook.LogPath + ".certs"},
	}
	wo := o.Webhook
	wo.Serving = w.serving
	metrics, err := loopback.FreeAddr(ctx)
	if err != nil {
		return nil, err
	}
	probes, err := loopback.FreeAddr(ctx)
	if err != nil {
		return nil, err
	}
	if w.Webhook, err = startWebhookProcess(wo, append(webhookArgs(wo, metrics, probes), selfManagedArgs(o, host)...), metrics, probes); err != nil {
		return nil, err
	}
	if err := w.waitReady(ctx); err != nil {
		return nil, errors.Join(err, w.Stop())
	}
	return w, nil
}

func selfManagedArgs(o SelfManagedOptions, host string) []string {
	args := []string{
		"--cert-mode=self-managed",
		"--namespace=" + o.Namespace,
		"--cert-secret=" + o.Secret,
		"--service-name=" + o.ServiceName,
		"--webhook-config-name=" + o.WebhookConfig,
		"--cert-extra-sans=" + host,
	}
	for _, f := range []struct {
		flag string
		d    time.Duration
	}{{"--ca-validity", o.CAValidity}, {"--cert-validity", o.CertValidity}, {"--cert-check-interval", o.CheckInterval}} {
		if f.d > 0 {
			args = append(args, f.flag+"="+f.d.String())
		}
	}
	return args
}

// waitReady polls until /readyz answers and the TLS port serves a certificate the
// published caBundle trusts.
func (w *SelfManagedWebhook) waitReady(ctx context.Context) error {
	return w.poll(ctx, "self-managed webhook", func(ctx context.Context) bool {
		roots, err := w.trusted(ctx)
		return err == nil && w.ready(ctx, w.serving, roots)
	})
}

// CABundle is the caBundle the webhook configuration holds now.
func (w *SelfManagedWebhook) CABundle(ctx context.Context) ([]byte, error) {
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := w.cluster.Client.Get(ctx, client.ObjectKey{Name: w.configName}, &cfg); err != nil {
		return nil, fmt.Errorf("get webhook configuration %s: %w", w.configName, err)
	}
	return cfg.Webhooks[0].ClientConfig.CABundle, nil
}

// trusted is the published caBundle as a pool.
func (w *SelfManagedWebhook) trusted(ctx context.Context) (*x509.CertPool, error) {
	bundle, err := w.CABundle(ctx)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return nil, fmt.Errorf("webhook configuration %s has no caBundle yet", w.configName)
	}
	return roots, nil
}

// ServedCertificate does what the apiserver does on a new connection: a TLS handshake
// trusting only the caBundle now published, for the host of the URL. It returns the
// certificate the webhook served.
func (w *SelfManagedWebhook) ServedCertificate(ctx context.Context) (*x509.Certificate, error) {
	roots, err := w.trusted(ctx)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config:    &tls.Config{RootCAs: roots, ServerName: w.serving.Host, MinVersion: tls.VersionTLS12},
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(w.serving.Host, strconv.Itoa(w.serving.Port)))
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with the self-managed webhook: %w", err)
	}
	tlsConn, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.Join(fmt.Errorf("TLS dialer returned a %T", conn), conn.Close())
	}
	leaf := tlsConn.ConnectionState().PeerCertificates[0]
	if err := conn.Close(); err != nil {
		return nil, fmt.Errorf("close TLS connection: %w", err)
	}
	return leaf, nil
}
