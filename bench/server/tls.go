package server

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vault-injector/vault-injector/certs"
)

// WriteCert writes a serving certificate for 127.0.0.1 and localhost as tls.crt and
// tls.key into dir (the layout controller-runtime's webhook server reads) and returns a
// pool that trusts it.
func WriteCert(dir string) (*x509.CertPool, error) {
	ca, err := certs.NewAuthority(24 * time.Hour)
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	certPEM, keyPEM, _, err := ca.Issue(24*time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return ca.Pool(), nil
}
