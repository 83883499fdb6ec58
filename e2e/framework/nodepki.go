package framework

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// KubeletClientPKI is how the kubelet knows the apiserver: a CA that the kubelet trusts
// for client certificates (authentication.x509.clientCAFile), and a client certificate
// from it that the apiserver presents for `kubectl logs` and `kubectl exec`
// (--kubelet-client-certificate). Anonymous kubelet access stays off.
type KubeletClientPKI struct {
	// CAFile is the CA certificate (PEM) the kubelet trusts for client certificates.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are the apiserver's client certificate and key (PEM).
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// kubeletClientUser is the apiserver's user at the kubelet; the group lets the kubelet's
// authorization webhook (a SubjectAccessReview) allow logs and exec.
const kubeletClientUser = "kube-apiserver-kubelet-client"

// NewKubeletClientPKI writes a fresh CA and the apiserver's client certificate into dir.
func NewKubeletClientPKI(dir string) (KubeletClientPKI, error) {
	p := KubeletClientPKI{
		CAFile:   filepath.Join(dir, "kubelet-client-ca.crt"),
		CertFile: filepath.Join(dir, "apiserver-kubelet-client.crt"),
		KeyFile:  filepath.Join(dir, "apiserver-kubelet-client.key"),
	}
	ca, err := newTestCA("vault-injector-e2e-kubelet-client-ca")
	if err != nil {
		return p, err
	}
	cert, key, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: kubeletClientUser, Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return p, err
	}
	return p, writeFiles(map[string][]byte{p.CAFile: ca.certPEM, p.CertFile: cert, p.KeyFile: key})
}

// APIServerArgs are the apiserver flags that make it reach kubelets at their InternalIP
// (the node's address on its bridge) with the client certificate.
func (p KubeletClientPKI) APIServerArgs() map[string]string {
	return map[string]string{
		"kubelet-client-certificate":      p.CertFile,
		"kubelet-client-key":              p.KeyFile,
		"kubelet-preferred-address-types": "InternalIP",
	}
}

// testCA is a CA for one suite run, valid for a day.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	serial  int64
}

func newTestCA(name string) (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", name, err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}, nil
}

// issue signs tmpl (subject, usages, names) with a fresh key and returns both as PEM.
func (ca *testCA) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key for %s: %w", tmpl.Subject.CommonName, err)
	}
	ca.serial++
	tmpl.SerialNumber = big.NewInt(ca.serial)
	tmpl.NotBefore, tmpl.NotAfter = ca.cert.NotBefore, ca.cert.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("key for %s: %w", tmpl.Subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// servingCertificate is a server certificate for names (IP addresses or DNS names).
func (ca *testCA) servingCertificate(names ...string) (certPEM, keyPEM []byte, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.issue(tmpl)
}

func writeFiles(files map[string][]byte) error {
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}
