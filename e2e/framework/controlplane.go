package framework

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlaneOptions configures StartControlPlane.
type ControlPlaneOptions struct {
	// AssetsDir holds kube-apiserver and etcd (see KubebuilderAssets).
	AssetsDir string
	// Log receives the apiserver's and etcd's output; nil discards it.
	Log io.Writer
	// APIServerArgs are extra kube-apiserver flags (name without dashes → value), such
	// as how to reach a node's kubelet (KubeletClientPKI.APIServerArgs).
	APIServerArgs map[string]string
	// InCluster makes the apiserver one that pods on a node use as a cluster's: it listens
	// on every address (pods reach it through the kubernetes Service), serves a certificate
	// that also names that Service's IP and names (from a CA written to CertDir/ca.crt),
	// calls webhooks at their endpoints (--enable-aggregator-routing) rather than through
	// a ClusterIP, and runs the ServiceAccount admission plugin, so pods get their token.
	InCluster bool
	// CertDir is the apiserver's certificate folder for InCluster; it must exist.
	CertDir string
}

// ServiceIP is the kubernetes Service's ClusterIP: the first address of envtest's
// service range, 10.0.0.0/24.
const ServiceIP = "10.0.0.1"

// ControlPlane is a real kube-apiserver and etcd started by envtest. It runs no
// controllers, no scheduler and no kubelet unless InCluster (see NodeStack): pods are
// stored and stay Pending, and ServiceAccounts exist only if a test creates them (envtest disables the
// ServiceAccount admission plugin, so nothing is defaulted or mounted either).
type ControlPlane struct {
	env *envtest.Environment
}

// StartControlPlane starts etcd and kube-apiserver.
func StartControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.AssetsDir == "" {
		return nil, errors.New("control plane: no assets folder with kube-apiserver and etcd")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: opts.AssetsDir}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	api := env.ControlPlane.GetAPIServer()
	api.Out, api.Err = out, out
	for name, value := range opts.APIServerArgs {
		api.Configure().Set(name, value)
	}
	if opts.InCluster {
		ca, err := writeInClusterCerts(opts.CertDir)
		if err != nil {
			return nil, err
		}
		api.CertDir, api.CA = opts.CertDir, ca
		api.Configure().Set("bind-address", "0.0.0.0")
		api.Configure().Set("enable-aggregator-routing", "true")
		api.Configure().Set("disable-admission-plugins", "")
	}
	// envtest fills in the rest of Etcd (path, timeouts) when it starts.
	env.ControlPlane.Etcd = &envtest.Etcd{Out: out, Err: out}
	if _, err := env.Start(); err != nil {
		// Start can fail after the processes are up.
		return nil, errors.Join(fmt.Errorf("start control plane: %w", err), env.Stop())
	}
	return &ControlPlane{env: env}, nil
}

// writeInClusterCerts writes what envtest would, but with the Service's names: the
// serving certificate and key, and the ServiceAccount token signing key. envtest keeps
// files it finds. It returns the CA certificate (PEM).
func writeInClusterCerts(dir string) ([]byte, error) {
	ca, err := newTestCA("vault-injector-e2e-apiserver-ca")
	if err != nil {
		return nil, err
	}
	cert, key, err := ca.servingCertificate("127.0.0.1", "localhost", ServiceIP,
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return nil, err
	}
	saCert, saKey, err := ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: "service-account-signer"}})
	if err != nil {
		return nil, err
	}
	return ca.certPEM, writeFiles(map[string][]byte{
		filepath.Join(dir, "ca.crt"):        ca.certPEM,
		filepath.Join(dir, "apiserver.crt"): cert, filepath.Join(dir, "apiserver.key"): key,
		filepath.Join(dir, "sa-signer.crt"): saCert, filepath.Join(dir, "sa-signer.key"): saKey,
	})
}

// Endpoint is how other processes reach this apiserver as its admin.
func (c *ControlPlane) Endpoint() APIEndpoint {
	cfg := c.env.Config
	return APIEndpoint{Host: cfg.Host, CAData: cfg.CAData, CertData: cfg.CertData, KeyData: cfg.KeyData}
}

// Stop stops kube-apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error {
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}
