package certs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/vault-injector/vault-injector/internal/kube"
)

// Defaults of the Options fields, used where a field is zero.
const (
	// DefaultCAValidity is the lifetime of a new CA: long, because replacing a CA is the
	// only rotation that touches the webhook configuration.
	DefaultCAValidity = 5 * 365 * 24 * time.Hour
	// DefaultCertValidity is the lifetime of a new serving certificate.
	DefaultCertValidity = 365 * 24 * time.Hour
	// DefaultCheckInterval is how often Run looks at the Secret and the webhook
	// configuration; it also bounds how long a replica serves a certificate another
	// replica has already replaced, and how long a cleared caBundle stays cleared.
	DefaultCheckInterval = time.Minute
	// DefaultClusterDomain is the DNS suffix of Services in most clusters.
	DefaultClusterDomain = "cluster.local"
)

// Client is what a Manager needs of the apiserver: single objects, read and written.
type Client interface {
	kube.Reader
	// Create creates obj; apierrors.IsAlreadyExists tells a lost race.
	Create(ctx context.Context, obj kube.Object) error
	// Update replaces obj conditionally on its resourceVersion; apierrors.IsConflict
	// tells a lost race.
	Update(ctx context.Context, obj kube.Object) error
}

// Options configures a Manager. Client, Namespace, SecretName, ServiceName,
// WebhookConfigName and CertDir are required.
type Options struct {
	// Client reaches the apiserver (*kube.Client): the webhook may get, create and update
	// its Secret and get and update its webhook configuration, but not list or watch.
	Client Client
	// Namespace holds the Secret and the Service (the webhook's own namespace).
	Namespace string
	// SecretName is the Secret (type kubernetes.io/tls) that holds the CA and certificate.
	SecretName string
	// ServiceName is the Service the apiserver calls; the certificate covers its DNS names.
	ServiceName string
	// WebhookConfigName is the MutatingWebhookConfiguration whose caBundle is kept current.
	WebhookConfigName string
	// CertDir receives tls.crt and tls.key, for the webhook server to load and reload.
	CertDir string
	// CAValidity is the lifetime of a new CA (DefaultCAValidity if zero).
	CAValidity time.Duration
	// CertValidity is the lifetime of a new serving certificate (DefaultCertValidity if zero).
	CertValidity time.Duration
	// CheckInterval is the period of Run (DefaultCheckInterval if zero).
	CheckInterval time.Duration
	// ClusterDomain is the cluster's DNS suffix (DefaultClusterDomain if empty).
	ClusterDomain string
	// ExtraSANs are more names the serving certificate covers besides the Service's: DNS
	// names, and IP addresses for an apiserver that calls the webhook by URL
	// (clientConfig.url) rather than through the Service, such as a webhook running
	// outside the cluster. Changing them renews the certificate.
	ExtraSANs []string
	// Now tells the time; tests move it forward to force renewals (time.Now if nil).
	Now func() time.Time
	// Log receives renewals and repairs (discarded if zero).
	Log logr.Logger
}

// withDefaults fills zero fields and checks the rest, naming every problem at once.
func (o Options) withDefaults() (Options, error) {
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = DefaultClusterDomain
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	return o, o.validate()
}

// validate checks options whose defaults are filled in.
func (o Options) validate() error {
	var errs []error
	if o.Client == nil {
		errs = append(errs, errors.New("a client is required"))
	}
	for _, f := range []struct{ name, value string }{
		{"namespace", o.Namespace},
		{"secret name", o.SecretName},
		{"service name", o.ServiceName},
		{"webhook configuration name", o.WebhookConfigName},
		{"certificate folder", o.CertDir},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("the %s is required", f.name))
		}
	}
	if o.CAValidity < 0 || o.CertValidity < 0 || o.CheckInterval < 0 {
		errs = append(errs, errors.New("validities and the check interval must be positive"))
	}
	if o.CertValidity > o.CAValidity {
		errs = append(errs, fmt.Errorf("certificate validity %s exceeds the CA validity %s", o.CertValidity, o.CAValidity))
	}
	for _, san := range o.ExtraSANs {
		if net.ParseIP(san) == nil && len(validation.IsDNS1123Subdomain(san)) > 0 && len(validation.IsWildcardDNS1123Subdomain(san)) > 0 {
			errs = append(errs, fmt.Errorf("extra SAN %q is neither an IP address nor a DNS name", san))
		}
	}
	return errors.Join(errs...)
}

// subjectNames are what the serving certificate covers.
type subjectNames struct {
	// commonName is <service>.<namespace>.svc, the name the apiserver verifies.
	commonName string
	dns        []string
	ips        []net.IP
}

// names are the Service's DNS names followed by the extra SANs, split by kind and in
// the order given, so the same options always ask for the same certificate.
func (o Options) names() subjectNames {
	svc := o.ServiceName + "." + o.Namespace + ".svc"
	n := subjectNames{commonName: svc, dns: []string{o.ServiceName, o.ServiceName + "." + o.Namespace, svc, svc + "." + o.ClusterDomain}}
	for _, san := range o.ExtraSANs {
		if ip := net.ParseIP(san); ip != nil {
			n.ips = append(n.ips, ip)
		} else {
			n.dns = append(n.dns, san)
		}
	}
	return n
}
