package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/vault-injector/vault-injector/internal/filestamp"
	"github.com/vault-injector/vault-injector/internal/metrics"
)

// certCounters count the serving certificate's reads and failed reads.
type certCounters struct{ reads, failures *metrics.Counter }

// certCheckInterval is how often a handshake may look at the certificate files again: a
// renewed Secret reaches the pod's volume within a minute, and stat is cheap.
const certCheckInterval = time.Second

// certReloader serves the certificate in a directory and reads it again when its files
// change (a Secret volume, cert-manager or the self-managed Manager replace them).
type certReloader struct {
	certFile, keyFile string
	log               logr.Logger
	counters          certCounters

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and modification times when cert was read
	checked time.Time
}

// newCertReloader reads the certificate once, so a server never starts without one; it
// counts every read and failed read in counters.
func newCertReloader(dir string, counters certCounters, log logr.Logger) (*certReloader, error) {
	r := &certReloader{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), log: log, counters: counters}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// stampOf describes the files as they are now; a change means a new certificate.
func (r *certReloader) stampOf() string { return filestamp.Of(r.certFile, r.keyFile) }

func (r *certReloader) reload() error {
	stamp := r.stampOf()
	r.counters.reads.Inc()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.counters.failures.Inc()
		return fmt.Errorf("load serving certificate: %w", err)
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

// GetCertificate is tls.Config's: the current certificate, read again if its files
// changed. A failed reload keeps serving the previous one (the files may be mid-write).
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= certCheckInterval {
		r.checked = now
		if r.stampOf() != r.stamp {
			if err := r.reload(); err != nil {
				r.log.Error(err, "keeping the previous serving certificate")
			} else {
				r.log.Info("serving a new certificate", "file", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// tlsServer serves the admission handler over TLS (HTTP/2 and HTTP/1.1).
type tlsServer struct {
	addr    string
	certs   *certReloader
	tlsOpts []func(*tls.Config)
	mux     *http.ServeMux
	started atomic.Bool
	// stopping is set once the replica is told to stop: /readyz fails, admissions go on.
	stopping atomic.Bool
	log      logr.Logger
	// timeouts bound each connection's reads, writes and idle time (admissionTimeouts).
	timeouts serverTimeouts
}

// serverTimeouts are an http.Server's per-request read and write deadlines and its idle
// connection timeout.
type serverTimeouts struct{ read, write, idle time.Duration }

// admissionTimeouts bound the admission port's connections. The apiserver sends a
// review's body at once and waits at most 30 s for an answer; a caller that stops in the
// middle of a body no longer holds its buffer (up to 7 MiB) for as long as it likes. The
// write deadline counts from the request's start: reading, deciding (lookups within the
// request's budget) and writing the answer.
var admissionTimeouts = serverTimeouts{read: 30 * time.Second, write: 45 * time.Second, idle: 2 * time.Minute}

// httpServer is the admission port's server over cfg.
func (s *tlsServer) httpServer(cfg *tls.Config) *http.Server {
	return &http.Server{
		// Headers of 64 KiB at most: an apiserver's are a few hundred bytes, and each
		// stalled request holds its headers until the read timeout.
		Handler: s.mux, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		ReadTimeout: s.timeouts.read, WriteTimeout: s.timeouts.write, IdleTimeout: s.timeouts.idle,
	}
}

// ready is the readiness probe: the server listens.
func (s *tlsServer) ready(w http.ResponseWriter, _ *http.Request) {
	if !s.started.Load() {
		http.Error(w, "webhook server not started", http.StatusServiceUnavailable)
		return
	}
	if s.stopping.Load() {
		http.Error(w, "webhook server stopping", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// start serves until ctx ends, then shuts down gracefully.
func (s *tlsServer) start(ctx context.Context) error {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}
	for _, o := range s.tlsOpts {
		o(cfg)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen webhook on %s: %w", s.addr, err)
	}
	srv := s.httpServer(cfg)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Error(err, "shutdown", "server", "webhook")
		}
	}()
	s.started.Store(true)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve webhook: %w", err)
	}
	return nil
}
