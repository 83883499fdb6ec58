package certs

import (
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"time"
)

// Authority is a CA outside any cluster, for the programs that serve the webhook on their
// own (the benchmark, the soak run), with the keys and certificates self-managed mode makes.
type Authority struct {
	ca *keyPair
}

// NewAuthority makes a CA valid from now for validity.
func NewAuthority(validity time.Duration) (*Authority, error) {
	ca, err := newCA(time.Now(), validity)
	if err != nil {
		return nil, err
	}
	return &Authority{ca: ca}, nil
}

// CertPEM is the CA certificate, for a webhook configuration's caBundle.
func (a *Authority) CertPEM() []byte { return a.ca.certPEM }

// Pool trusts this CA alone, for clients of the servers it certifies.
func (a *Authority) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.ca.cert)
	return pool
}

// Issue makes a serving certificate for hosts (IP addresses or DNS names; the first is also
// the common name) and returns it and its key as PEM, with its serial number.
func (a *Authority) Issue(validity time.Duration, hosts ...string) (certPEM, keyPEM []byte, serial *big.Int, err error) {
	if len(hosts) == 0 {
		return nil, nil, nil, errors.New("a serving certificate needs at least one host")
	}
	names := subjectNames{commonName: hosts[0]}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			names.ips = append(names.ips, ip)
		} else {
			names.dns = append(names.dns, h)
		}
	}
	kp, err := newServing(a.ca, time.Now(), validity, names)
	if err != nil {
		return nil, nil, nil, err
	}
	return kp.certPEM, kp.keyPEM, kp.cert.SerialNumber, nil
}
