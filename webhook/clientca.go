package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// clientCA verifies admission callers' certificates against a CA bundle file, re-reading
// the file when it changes (a mounted ConfigMap or Secret is replaced in place by the
// kubelet), so rotating the apiserver's client CA needs no restart.
type clientCA struct {
	path string
	log  logr.Logger

	mu      sync.Mutex
	pool    *x509.CertPool
	modTime time.Time
	size    int64
}

// newClientCA reads the bundle once: a missing or empty file stops the start-up, as
// serving without the authentication the platform asked for would be worse.
func newClientCA(path string, log logr.Logger) (*clientCA, error) {
	c := &clientCA{path: path, log: log}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the bundle if its size or modification time changed since the last read.
func (c *clientCA) reload() error {
	info, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("client CA file: %w", err)
	}
	if c.pool != nil && info.ModTime().Equal(c.modTime) && info.Size() == c.size {
		return nil
	}
	pem, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("client CA file %s holds no PEM certificates", c.path)
	}
	c.pool, c.modTime, c.size = pool, info.ModTime(), info.Size()
	return nil
}

// current returns the pool to verify with; a bundle that became unreadable keeps the last
// good one in force (and says so), rather than letting every caller in or none.
func (c *clientCA) current() *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		c.log.Error(err, "cannot reload the client CA bundle; keeping the previous one")
	}
	return c.pool
}

// errNoClientCert refuses a handshake without a client certificate.
var errNoClientCert = errors.New("a client certificate is required")

// verify is tls.Config.VerifyConnection, which runs on resumed sessions too: the chain
// must lead to the bundle's current CAs and the leaf must allow client authentication.
func (c *clientCA) verify(cs tls.ConnectionState) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errNoClientCert
	}
	opts := x509.VerifyOptions{
		Roots:         c.current(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, cert := range certs[1:] {
		opts.Intermediates.AddCert(cert)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}

// configure makes the TLS server ask every caller for a certificate and check it with
// verify: tls.RequireAnyClientCert leaves the checking to us, which lets the CAs change
// while the server runs.
func (c *clientCA) configure(cfg *tls.Config) {
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.VerifyConnection = c.verify
}
