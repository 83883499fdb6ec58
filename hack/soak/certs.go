package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vault-injector/vault-injector/certs"
)

// pki is the soak's own CA, trusted by the webhook configuration, and the serving
// certificate it writes into the replicas' shared cert dir and rewrites under load.
type pki struct {
	dir    string
	ca     *certs.Authority
	serial *big.Int // of the serving certificate written last
}

func newPKI(dir string) (*pki, error) {
	ca, err := certs.NewAuthority(24 * time.Hour)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	p := &pki{dir: dir, ca: ca}
	return p, p.issue()
}

// issue writes a new key and serving certificate for 127.0.0.1 as tls.key and tls.crt,
// each renamed into place so a reader never sees half a file.
func (p *pki) issue() error {
	certPEM, keyPEM, serial, err := p.ca.Issue(24*time.Hour, "127.0.0.1")
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	// The key first: until the certificate follows, the pair does not match and the
	// webhook keeps serving the old one.
	if err := writeAtomic(filepath.Join(p.dir, "tls.key"), keyPEM); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(p.dir, "tls.crt"), certPEM); err != nil {
		return err
	}
	p.serial = serial
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// servedSerial does a TLS handshake with addr, trusting only the soak's CA, and
// returns the serial of the certificate it served.
func (p *pki) servedSerial(ctx context.Context, addr string) (*big.Int, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.New("not a TLS connection")
	}
	return tc.ConnectionState().PeerCertificates[0].SerialNumber, nil
}
