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
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/registry"
)

// shutdownGrace lets in-flight admission requests finish when the pod is stopped.
const shutdownGrace = 10 * time.Second

// Serve runs the admission server (TLS, certificates reloaded on change), the probe
// endpoints and the metrics endpoint until ctx ends or one of them fails.
func Serve(ctx context.Context, cfg config.Webhook, log logr.Logger) error {
	metrics, err := NewMetrics(crmetrics.Registry)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:    cfg.WebhookHost,
		Port:    cfg.WebhookPort,
		CertDir: cfg.CertDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
	})
	facts, err := NewFactFinder(cfg, metrics, log)
	if err != nil {
		return err
	}
	hook := &admission.Webhook{Handler: &Handler{Config: cfg, Metrics: metrics, Facts: facts}}
	srv.Register(MutatePath, hook)

	probes := http.NewServeMux()
	probes.Handle("/healthz", http.StripPrefix("/healthz", &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}))
	probes.Handle("/readyz", http.StripPrefix("/readyz", &healthz.Handler{Checks: map[string]healthz.Checker{"webhook": srv.StartedChecker()}}))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Start(logr.NewContext(ctx, log)) })
	g.Go(func() error { return serveHTTP(ctx, "probes", cfg.ProbeAddr, probes, log) })
	if cfg.MetricsAddr != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(crmetrics.Registry, promhttp.HandlerOpts{}))
		g.Go(func() error { return serveHTTP(ctx, "metrics", cfg.MetricsAddr, mux, log) })
	}
	log.Info("serving", "webhook", fmt.Sprintf("%s:%d%s", cfg.WebhookHost, cfg.WebhookPort, MutatePath),
		"probes", cfg.ProbeAddr, "metrics", cfg.MetricsAddr, "certDir", cfg.CertDir)
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

// NewFactFinder builds the image resolver and, when a cluster is reachable (in-cluster or
// KUBECONFIG), the client that reads pull secrets.
func NewFactFinder(w config.Webhook, metrics *Metrics, log logr.Logger) (*FactFinder, error) {
	cfg := w.Registry
	platform, err := ParsePlatform(cfg.DefaultPlatform)
	if err != nil {
		return nil, err
	}
	transport, err := registryTransport(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	f := &FactFinder{
		Images: registry.New(registry.Options{
			CacheSize: cfg.CacheSize, TagTTL: cfg.TagTTL, InsecureRegistries: cfg.Insecure, Transport: transport,
		}, metrics.ImageLookup),
		Budget:          cfg.Timeout,
		DefaultPlatform: platform,
		ReadEnvSources:  w.ReadEnvSources,
	}
	if cfg.DefaultPullSecret != "" {
		ns, name, _ := strings.Cut(cfg.DefaultPullSecret, "/")
		f.DefaultPullSecret = &types.NamespacedName{Namespace: ns, Name: name}
	}
	restCfg, err := ctrlconfig.GetConfig()
	if err != nil {
		log.Info("no cluster configuration; image lookups will not use pull secrets", "reason", err.Error())
		return f, nil
	}
	kube, err := client.New(restCfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	f.Kube = kube
	return f, nil
}

func registryTransport(caFile string) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // the standard library's type
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("registry CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("registry CA file %s holds no PEM certificates", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}
