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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, fmt.Errorf("kubelet client CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vault-injector-e2e-kubelet-client-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, fmt.Errorf("kubelet client CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, fmt.Errorf("kubelet client CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, fmt.Errorf("apiserver kubelet client key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: kubeletClientUser, Organization: []string{"system:masters"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return p, fmt.Errorf("apiserver kubelet client certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return p, fmt.Errorf("apiserver kubelet client key: %w", err)
	}
	for path, block := range map[string]*pem.Block{
		p.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		p.CertFile: {Type: "CERTIFICATE", Bytes: der},
		p.KeyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return p, fmt.Errorf("kubelet client PKI: %w", err)
		}
	}
	return p, nil
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
