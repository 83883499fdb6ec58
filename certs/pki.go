package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// backdate starts every certificate a little in the past, so a replica or an apiserver
// whose clock runs behind still accepts a certificate made a moment ago.
const backdate = time.Hour

// keyPair is a certificate with its private key, both parsed and as PEM.
type keyPair struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
	key     crypto.Signer
}

// newCA makes a self-signed CA that can sign serving certificates only (path length 0).
func newCA(now time.Time, validity time.Duration) (*keyPair, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "vault-injector-ca", Organization: []string{"vault-injector"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil)
}

// newServing makes a serving certificate for names, signed by ca; it never outlives ca.
func newServing(ca *keyPair, now time.Time, validity time.Duration, names subjectNames) (*keyPair, error) {
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names.commonName, Organization: []string{"vault-injector"}},
		DNSNames:    names.dns,
		IPAddresses: names.ips,
		NotBefore:   now.Add(-backdate),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return sign(tmpl, ca)
}

// sign makes a P-256 key and a certificate for tmpl, self-signed when parent is nil.
func sign(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return parseKeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	)
}

// parseKeyPair reads a PEM certificate and PEM key, and checks that they belong together.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	certs, err := parseCerts(certPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("want one certificate, found %d", len(certs))
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", parsed)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, errors.New("private key does not match the certificate")
	}
	return &keyPair{cert: certs[0], certPEM: certPEM, keyPEM: keyPEM, key: key}, nil
}

// parseCerts reads every certificate of a PEM bundle; anything else in it is an error.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := bytes.TrimSpace(data); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("not a PEM certificate bundle")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// renewalDue tells whether two thirds of c's lifetime have passed at now. The lifetime
// counts from when c was made, not from NotBefore: counting the backdate hour too would
// make any validity under 30 minutes due at once, renewing at every check. A certificate
// that cannot be one of ours (shorter than the backdate) counts from NotBefore.
func renewalDue(c *x509.Certificate, now time.Time) bool {
	made := c.NotBefore.Add(backdate)
	if !made.Before(c.NotAfter) {
		made = c.NotBefore
	}
	return !now.Before(made.Add(c.NotAfter.Sub(made) * 2 / 3))
}

// servingProblem says why s is not fit to serve under ca for names at now ("" if it is).
func servingProblem(s, ca *keyPair, names subjectNames, now time.Time) string {
	switch {
	case s.cert.CheckSignatureFrom(ca.cert) != nil:
		return "certificate not signed by the current CA"
	case !slices.Equal(s.cert.DNSNames, names.dns):
		return "certificate DNS names differ from the wanted ones"
	case !slices.EqualFunc(s.cert.IPAddresses, names.ips, net.IP.Equal):
		return "certificate IP addresses differ from the wanted ones"
	case renewalDue(s.cert, now):
		return "certificate due for renewal"
	default:
		return ""
	}
}

// encodeBundle writes certificates as one PEM bundle, in order.
func encodeBundle(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.Bytes()
}
