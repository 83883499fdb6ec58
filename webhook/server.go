package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/registry"
)

// shutdownGrace lets in-flight admission requests finish when the pod is stopped.
const shutdownGrace = 10 * time.Second

// Serve runs the admission server (TLS, certificates reloaded on change), the probe
// endpoints and the metrics endpoint until ctx ends or one of them fails.
func Serve(ctx context.Context, cfg config.Webhook, log logr.Logger) error {
	// Our series live in a registry of this server's own, served next to
	// controller-runtime's global one, so nothing here is process-global.
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	tlsOpts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }}
	if cfg.ClientCAFile != "" {
		// Probes and metrics are served on their own plain-HTTP ports below: only the
		// admission port asks for a certificate.
		ca, err := newClientCA(cfg.ClientCAFile, log.WithName("client-ca"))
		if err != nil {
			return err
		}
		tlsOpts = append(tlsOpts, ca.configure)
	}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:    cfg.WebhookHost,
		Port:    cfg.WebhookPort,
		CertDir: cfg.CertDir,
		TLSOpts: tlsOpts,
	})
	kube, err := kubeClient(cfg, log)
	if err != nil {
		return err
	}
	facts, err := NewFactFinder(cfg, kube, metrics)
	if err != nil {
		return err
	}
	certManager, err := selfManagedCerts(ctx, cfg, kube, log)
	if err != nil {
		return err
	}
	if err := reg.Register(certs.NewExpiryCollector(filepath.Join(cfg.CertDir, "tls.crt"))); err != nil {
		return fmt.Errorf("register certificate metric: %w", err)
	}
	srv.Register(MutatePath, &ReviewServer{Handler: &Handler{Config: cfg, Metrics: metrics, Facts: facts}, Log: log.WithName("admission")})

	probes := http.NewServeMux()
	probes.Handle("/healthz", http.StripPrefix("/healthz", &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}))
	probes.Handle("/readyz", http.StripPrefix("/readyz", &healthz.Handler{Checks: map[string]healthz.Checker{"webhook": srv.StartedChecker()}}))

	g, ctx := errgroup.WithContext(ctx)
	if certManager != nil {
		g.Go(func() error { return certManager.Run(ctx) })
	}
	if cfg.VaultCA != nil {
		g.Go(func() error {
			watchVaultCA(ctx, cfg.VaultCA, vaultCAReloadInterval, log.WithName("vault-ca"))
			return nil
		})
	}
	g.Go(func() error { return srv.Start(logr.NewContext(ctx, log)) })
	g.Go(func() error { return serveHTTP(ctx, "probes", cfg.ProbeAddr, probes, log) })
	if cfg.MetricsAddr != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{crmetrics.Registry, reg}, promhttp.HandlerOpts{}))
		g.Go(func() error { return serveHTTP(ctx, "metrics", cfg.MetricsAddr, mux, log) })
	}
	log.Info("serving", "webhook", fmt.Sprintf("%s:%d%s", cfg.WebhookHost, cfg.WebhookPort, MutatePath),
		"probes", cfg.ProbeAddr, "metrics", cfg.MetricsAddr, "certDir", cfg.CertDir, "clientCAFile", cfg.ClientCAFile)
	return g.Wait()
}

// serveHTTP serves plain HTTP on addr until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, name, addr string, h http.Handler, log logr.Logger) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			log.Error(err, "shutdown", "server", name)
		}
	}()
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", name, err)
	}
	return nil
}

// kubeClient connects to the cluster (in-cluster, or KUBECONFIG) with an uncached client:
// the webhook only gets single objects. Without a cluster it returns nil, unless
// self-managed certificates need one.
func kubeClient(cfg config.Webhook, log logr.Logger) (client.Client, error) {
	restCfg, err := ctrlconfig.GetConfig()
	if err != nil {
		if cfg.Certs.Mode == config.CertModeSelfManaged {
			return nil, fmt.Errorf("self-managed certificates need the cluster: %w", err)
		}
		log.Info("no cluster configuration; pull secrets will not be read", "reason", err.Error())
		return nil, nil
	}
	kube, err := client.New(restCfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return kube, nil
}

// selfManagedCerts makes sure a certificate is in the cert dir before the server starts
// (the server loads it at start), and returns the manager that keeps it current.
func selfManagedCerts(ctx context.Context, cfg config.Webhook, kube client.Client, log logr.Logger) (*certs.Manager, error) {
	if cfg.Certs.Mode != config.CertModeSelfManaged {
		return nil, nil
	}
	m, err := certs.New(certs.Options{
		Client: kube, Namespace: cfg.Certs.Namespace, SecretName: cfg.Certs.Secret,
		ServiceName: cfg.Certs.ServiceName, WebhookConfigName: cfg.Certs.WebhookConfigName, CertDir: cfg.CertDir,
		CAValidity: cfg.Certs.CAValidity, CertValidity: cfg.Certs.CertValidity, CheckInterval: cfg.Certs.CheckInterval,
		ExtraSANs: cfg.Certs.ExtraSANs, Log: log.WithName("certs"),
	})
	if err != nil {
		return nil, fmt.Errorf("self-managed certificates: %w", err)
	}
	if err := m.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("self-managed certificates: %w", err)
	}
	return m, nil
}

// NewFactFinder builds the image resolver; kube, if not nil, reads pull secrets.
func NewFactFinder(w config.Webhook, kube client.Reader, metrics *Metrics) (*FactFinder, error) {
	cfg := w.Registry
	platform, err := v1.ParsePlatform(cfg.DefaultPlatform)
	if err != nil {
		return nil, fmt.Errorf("default platform: %w", err)
	}
	roots, err := registryRoots(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	f := &FactFinder{
		Images: registry.New(registry.Options{
			CacheSize: cfg.CacheSize, TagTTL: cfg.TagTTL, InsecureRegistries: cfg.Insecure, RootCAs: roots,
			Mirrors: cfg.Mirrors, PrivateRegistries: cfg.Private,
		}, metrics.ImageLookup),
		Budget:                      cfg.Timeout,
		DefaultPlatform:             *platform,
		DefaultPullSecretRegistries: cfg.DefaultPullSecretRegistries,
		Kube:                        kube,
	}
	if cfg.DefaultPullSecret != "" {
		ns, name, _ := strings.Cut(cfg.DefaultPullSecret, "/")
		f.DefaultPullSecret = &types.NamespacedName{Namespace: ns, Name: name}
	}
	return f, nil
}

// registryRoots are the system's roots plus the bundle in caFile, if any.
func registryRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("registry CA file: %w", err)
	}
	pool, err := registry.SystemRootsWith(pem)
	if err != nil {
		return nil, fmt.Errorf("registry CA file %s: %w", caFile, err)
	}
	return pool, nil
}
