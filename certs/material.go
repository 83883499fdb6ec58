package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the Secret. tls.crt and tls.key make it a regular kubernetes.io/tls Secret.
const (
	// KeyCACert is the CA that signed tls.crt.
	KeyCACert = "ca.crt"
	// KeyCAKey is that CA's private key; it never leaves the Secret.
	KeyCAKey = "ca.key"
	// KeyCABundle is what the webhook configuration trusts: the current CA, followed by the
	// previous one while it is valid, so replicas still serving a certificate of the
	// previous CA keep working until they pick up the new one.
	KeyCABundle = "ca-bundle.crt"
)

// material is the content of the Secret: a CA, a serving certificate and the CA bundle.
type material struct {
	ca      *keyPair
	serving *keyPair
	bundle  []byte
	// secretVersion is the resourceVersion of the Secret that holds this material, as
	// read or written: the caBundle is published only while the Secret is still that one.
	secretVersion string
}

// data is the Secret's data for m.
func (m *material) data() map[string][]byte {
	return map[string][]byte{
		KeyCACert:               m.ca.certPEM,
		KeyCAKey:                m.ca.keyPEM,
		KeyCABundle:             m.bundle,
		corev1.TLSCertKey:       m.serving.certPEM,
		corev1.TLSPrivateKeyKey: m.serving.keyPEM,
	}
}

// plan reads the Secret's data (nil for a Secret that does not exist yet) and returns the
// material to use at now: the stored one if it is sound and not due for renewal, else a
// repaired or renewed one. reason is empty when the stored data can be used as it is.
func (o Options) plan(data map[string][]byte, now time.Time) (m *material, reason string, err error) {
	m = &material{}
	var previous *x509.Certificate
	ca, caErr := parseKeyPair(data[KeyCACert], data[KeyCAKey])
	switch {
	case data == nil:
		reason = "no certificate yet"
	case caErr != nil:
		reason = fmt.Sprintf("unusable CA (%v)", caErr)
	case !ca.cert.IsCA:
		reason = "unusable CA (not a CA certificate)"
	case renewalDue(ca.cert, now):
		reason, previous = "CA due for renewal", ca.cert
	default:
		m.ca = ca
	}
	if m.ca == nil {
		if m.ca, err = newCA(now, o.CAValidity); err != nil {
			return nil, "", err
		}
	}
	serving, servErr := parseKeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	problem := ""
	if servErr != nil {
		problem = fmt.Sprintf("unusable certificate (%v)", servErr)
	} else if problem = servingProblem(serving, m.ca, o.names(), now); problem == "" {
		m.serving = serving
	}
	if m.serving == nil {
		if m.serving, err = newServing(m.ca, now, o.CertValidity, o.names()); err != nil {
			return nil, "", err
		}
		if reason == "" {
			reason = problem
		}
	}
	m.bundle = buildBundle(m.ca.cert, previous, data[KeyCABundle], now)
	if reason == "" && !bytes.Equal(m.bundle, data[KeyCABundle]) {
		reason = "CA bundle out of date"
	}
	return m, reason, nil
}

// buildBundle lists ca first, then the CAs worth keeping from the stored bundle (or the
// CA being replaced): those still valid at now, other than ca. At most one older CA is
// kept, since a CA is replaced only every few years.
func buildBundle(ca, previous *x509.Certificate, stored []byte, now time.Time) []byte {
	out := []*x509.Certificate{ca}
	candidates, err := parseCerts(stored)
	if err != nil {
		candidates = nil
	}
	if previous != nil {
		candidates = append([]*x509.Certificate{previous}, candidates...)
	}
	for _, c := range candidates {
		if !c.Equal(ca) && c.IsCA && now.Before(c.NotAfter) {
			out = append(out, c)
			break
		}
	}
	return encodeBundle(out)
}
