package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/certs"
)

// TestAuthority checks that issued certificates verify against the authority's pool for
// every host asked for, and for nothing else.
func TestAuthority(t *testing.T) {
	t.Parallel()
	a, err := certs.NewAuthority(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, serial, err := a.Issue(time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(serial) != 0 || leaf.Subject.CommonName != "127.0.0.1" {
		t.Errorf("serial %v, common name %q", leaf.SerialNumber, leaf.Subject.CommonName)
	}
	for host, ok := range map[string]bool{"127.0.0.1": true, "localhost": true, "example.com": false} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: host})
		if (err == nil) != ok {
			t.Errorf("verify for %s: %v, want ok=%v", host, err, ok)
		}
	}
	if !a.Pool().AppendCertsFromPEM(a.CertPEM()) {
		t.Error("CertPEM holds no certificate")
	}
	_, _, second, err := a.Issue(time.Hour, "127.0.0.1")
	if err != nil || second.Cmp(serial) == 0 {
		t.Errorf("second serial %v (first %v): %v", second, serial, err)
	}
	if _, _, _, err := a.Issue(time.Hour); err == nil {
		t.Error("no host: want an error")
	}
}
