package settings

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCACerts bounds ENVEXEC_CA_CERTS, in bytes of PEM text. Linux refuses one
// environment entry over 128 KiB, and every wrapped container of a pod carries the
// bundle: half of that leaves room, and holds dozens of CA certificates.
const MaxCACerts = 64 << 10

// CACerts reads a PEM bundle and returns its certificates re-encoded as PEM, one
// CERTIFICATE block each and nothing else: comments, private keys and other blocks of
// the input are dropped, so only certificates can reach a pod. It fails if the input holds
// no certificate, if a CERTIFICATE block does not parse, or if the result is larger than
// MaxCACerts. The webhook uses it on --vault-ca-file; envexec's own parser of
// ENVEXEC_CA_CERTS accepts exactly what it returns.
func CACerts(data []byte) (string, error) {
	var out bytes.Buffer
	n := 0
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("certificate %d does not parse: %w", n+1, err)
		}
		n++
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return "", err
		}
	}
	switch {
	case n == 0:
		return "", errors.New("holds no PEM certificate")
	case out.Len() > MaxCACerts:
		return "", fmt.Errorf("its %d certificates take %d bytes of PEM, more than the %d an envexec setting may carry "+
			"(an environment variable); give only the CAs that sign Vault's certificate, not a system bundle", n, out.Len(), MaxCACerts)
	}
	return out.String(), nil
}

// parseCACerts reads ENVEXEC_CA_CERTS strictly: CERTIFICATE blocks only, separated by
// whitespace, as CACerts writes them.
func parseCACerts(s *Settings, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > MaxCACerts {
		return fmt.Errorf("%d bytes, more than %d", len(v), MaxCACerts)
	}
	var certs []*x509.Certificate
	rest := []byte(v)
	for rest = bytes.TrimSpace(rest); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var block *pem.Block
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return fmt.Errorf("text after certificate %d is not a PEM block", len(certs))
		}
		if block, rest = pem.Decode(rest); block == nil {
			return fmt.Errorf("text after certificate %d is not a PEM block", len(certs))
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			return fmt.Errorf("block %d is a %q, want CERTIFICATE without headers", len(certs)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %d does not parse: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return errors.New("holds no PEM certificate")
	}
	s.CACerts = certs
	return nil
}
