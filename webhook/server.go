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
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/registry"
)

// stackWorkers is how many admission workers (withGrownStacks) run per usable CPU. The
// apiserver sends many admissions at once and each waits its turn for a CPU, so a request
// that finds no idle worker pays for a fresh stack: with four per CPU, half the requests of
// 32 concurrent clients did, with sixteen none did. Their stacks stay within 2 MiB.
const stackWorkers = 16

// shutdownGrace lets in-flight admission requests finish when the pod is stopped.
const shutdownGrace = 10 * time.Second

// Serve runs the admission server (TLS, certificates reloaded on change), the probe
// endpoints and the metrics endpoint until ctx ends or one of them fails.
func Serve(ctx context.Context, cfg config.Webhook, log logr.Logger) error {
	reg, series, certCount, err := newRegistry(filepath.Join(cfg.CertDir, "tls.crt"))
	if err != nil {
		return err
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
	kc, err := kubeClient(cfg, log)
	if err != nil {
		return err
	}
	var reader kube.Reader // a nil *kube.Client would be a non-nil Reader
	if kc != nil {
		reader = kc
	}
	facts, err := NewFactFinder(cfg, reader, series)
	if err != nil {
		return err
	}
	certManager, err := selfManagedCerts(ctx, cfg, kc, log)
	if err != nil {
		return err
	}
	reloader, err := newCertReloader(cfg.CertDir, certCount, log.WithName("certs"))
	if err != nil {
		return err
	}
	srv := &tlsServer{
		addr: net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort)), certs: reloader, tlsOpts: tlsOpts,
		mux: http.NewServeMux(), log: log, timeouts: admissionTimeouts,
	}

	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	probes.HandleFunc("/readyz", srv.ready)

	stop := ctx // ends when the replica is told to stop
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
	serving := drain(stop, ctx, srv, cfg.ShutdownDelay, log)
	review := &ReviewServer{Handler: &Handler{Config: cfg, Metrics: series, Facts: facts}, Log: log.WithName("admission")}
	srv.mux.Handle(MutatePath, withGrownStacks(serving, review, stackWorkers*runtime.GOMAXPROCS(0)))
	g.Go(func() error { return srv.start(serving) })
	g.Go(func() error { return serveHTTP(serving, "probes", cfg.ProbeAddr, probes, log) })
	if cfg.MetricsAddr != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", reg)
		g.Go(func() error { return serveHTTP(serving, "metrics", cfg.MetricsAddr, mux, log) })
	}
	log.Info("serving", "webhook", fmt.Sprintf("%s:%d%s", cfg.WebhookHost, cfg.WebhookPort, MutatePath),
		"probes", cfg.ProbeAddr, "metrics", cfg.MetricsAddr, "certDir", cfg.CertDir, "clientCAFile", cfg.ClientCAFile)
	return g.Wait()
}

// newRegistry holds every series a server exposes: the admissions', the serving
// certificate's, the Go runtime's and the process'. Our series live in a registry of this
// server's own, so nothing here is process-global.
func newRegistry(certFile string) (*metrics.Registry, *Metrics, certCounters, error) {
	reg := metrics.NewRegistry()
	series, err := NewMetrics(reg)
	if err != nil {
		return nil, nil, certCounters{}, fmt.Errorf("register metrics: %w", err)
	}
	// The certificate counters keep the names dashboards know from controller-runtime's
	// certificate watcher.
	readsFamily, reads := metrics.NewCounter("certwatcher_read_certificate_total", "Total number of certificate reads.")
	failuresFamily, failures := metrics.NewCounter("certwatcher_read_certificate_errors_total", "Total number of certificate read errors.")
	for _, c := range []metrics.Collector{readsFamily, failuresFamily, certs.ExpiryGauge(certFile), metrics.Runtime{}, metrics.Process{}} {
		if err := reg.Register(c); err != nil {
			return nil, nil, certCounters{}, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, series, certCounters{reads: reads, failures: failures}, nil
}

// SeriesNames lists the metric families a server exposes, so the chart's alerts and
// dashboard can be checked against what exists.
func SeriesNames() ([]string, error) {
	reg, _, _, err := newRegistry("")
	if err != nil {
		return nil, err
	}
	return reg.Names(), nil
}

// drain returns a context that ends when group does, but delay later if the replica was
// told to stop (stop ended): meanwhile the server reports not ready and goes on admitting,
// since the apiserver may still pick this replica until the EndpointSlice change reaches
// it, and a closed port then fails a pod creation. A failed component stops it at once.
func drain(stop, group context.Context, srv *tlsServer, delay time.Duration, log logr.Logger) context.Context {
	serving, end := context.WithCancel(context.WithoutCancel(group))
	go func() {
		defer end()
		<-group.Done()
		if stop.Err() == nil {
			return
		}
		srv.stopping.Store(true)
		log.Info("stopping: not ready, still admitting for the shutdown delay", "delay", delay)
		time.Sleep(delay)
	}()
	return serving
}

// serveHTTP serves plain HTTP on addr until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, name, addr string, h http.Handler, log logr.Logger) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	// Probes and scrapes are small GETs: a client that sends or reads slowly, keeps idle
	// connections or sends huge headers only ties up what these bounds allow.
	s := &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
	}
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

// kubeClient connects to the cluster (KUBECONFIG, or in-cluster) with the webhook's small
// client: it only gets single objects. Without a cluster it returns nil, unless
// self-managed certificates need one.
func kubeClient(cfg config.Webhook, log logr.Logger) (*kube.Client, error) {
	kubeCfg, err := kube.LoadConfig(func(name string) string { return cfg.ClusterEnv[name] })
	if err != nil {
		if cfg.Certs.Mode == config.CertModeSelfManaged {
			return nil, fmt.Errorf("self-managed certificates need the cluster: %w", err)
		}
		log.Info("no cluster configuration; pull secrets will not be read", "reason", err.Error())
		return nil, nil
	}
	return kube.New(kubeCfg)
}

// selfManagedCerts makes sure a certificate is in the cert dir before the server starts
// (the server loads it at start), and returns the manager that keeps it current.
func selfManagedCerts(ctx context.Context, cfg config.Webhook, kc *kube.Client, log logr.Logger) (*certs.Manager, error) {
	if cfg.Certs.Mode != config.CertModeSelfManaged {
		return nil, nil
	}
	m, err := certs.New(certs.Options{
		Client: kc, Namespace: cfg.Certs.Namespace, SecretName: cfg.Certs.Secret,
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
func NewFactFinder(w config.Webhook, reader kube.Reader, metrics *Metrics) (*FactFinder, error) {
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
		Kube:                        reader,
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
