package framework

import (
	"errors"
	"fmt"
	"io"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlaneOptions configures StartControlPlane.
type ControlPlaneOptions struct {
	// AssetsDir holds kube-apiserver and etcd (see KubebuilderAssets).
	AssetsDir string
	// Webhooks are registered once the apiserver is up; envtest points their service
	// references at Serving. Empty means pods are admitted without any webhook.
	Webhooks []*admissionregistrationv1.MutatingWebhookConfiguration
	// Log receives the apiserver's and etcd's output; nil discards it.
	Log io.Writer
	// APIServerArgs are extra kube-apiserver flags (name without dashes → value), such
	// as how to reach a node's kubelet (KubeletClientPKI.APIServerArgs).
	APIServerArgs map[string]string
}

// ControlPlane is a real kube-apiserver and etcd started by envtest. It runs no
// controllers, no scheduler and no kubelet: pods stay Pending until a Runner plays the
// kubelet, and ServiceAccounts exist only if a test creates them (envtest disables the
// ServiceAccount admission plugin, so nothing is defaulted or mounted either).
type ControlPlane struct {
	env *envtest.Environment
}

// WebhookServing is where the apiserver expects the webhook: host, port and a folder with
// tls.crt/tls.key signed by the CA envtest put in the webhook configuration.
type WebhookServing struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	CertDir string `json:"certDir"`
	// CAData is the CA the apiserver trusts for the webhook (PEM).
	CAData []byte `json:"caData"`
}

// StartControlPlane starts etcd and kube-apiserver and registers opts.Webhooks.
func StartControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.AssetsDir == "" {
		return nil, errors.New("control plane: no assets folder with kube-apiserver and etcd")
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: opts.AssetsDir,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: opts.Webhooks,
			// Loopback only: the apiserver and the webhook share this machine.
			LocalServingHost: "127.0.0.1",
		},
	}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	api := env.ControlPlane.GetAPIServer()
	api.Out, api.Err = out, out
	for name, value := range opts.APIServerArgs {
		api.Configure().Set(name, value)
	}
	// envtest fills in the rest of Etcd (path, timeouts) when it starts.
	env.ControlPlane.Etcd = &envtest.Etcd{Out: out, Err: out}
	if _, err := env.Start(); err != nil {
		// Start can fail after the processes are up (e.g. installing webhooks).
		return nil, errors.Join(fmt.Errorf("start control plane: %w", err), env.Stop())
	}
	return &ControlPlane{env: env}, nil
}

// Endpoint is how other processes reach this apiserver as its admin.
func (c *ControlPlane) Endpoint() APIEndpoint {
	cfg := c.env.Config
	return APIEndpoint{Host: cfg.Host, CAData: cfg.CAData, CertData: cfg.CertData, KeyData: cfg.KeyData}
}

// Serving is where the webhook must listen for the apiserver to reach it.
func (c *ControlPlane) Serving() WebhookServing {
	o := c.env.WebhookInstallOptions
	return WebhookServing{
		Host: o.LocalServingHost, Port: o.LocalServingPort,
		CertDir: o.LocalServingCertDir, CAData: o.LocalServingCAData,
	}
}

// Kubeconfig provisions a client-certificate user in groups and renders a kubeconfig
// for it: for kubectl against a running demo (system:masters), or for the webhook,
// which reads pull secrets with only the rights WebhookRBAC grants.
func (c *ControlPlane) Kubeconfig(user string, groups ...string) ([]byte, error) {
	u, err := c.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("add user %s: %w", user, err)
	}
	cfg, err := u.KubeConfig()
	if err != nil {
		return nil, fmt.Errorf("render kubeconfig for %s: %w", user, err)
	}
	return cfg, nil
}

// Stop stops kube-apiserver and etcd and removes their data and the serving certificates.
func (c *ControlPlane) Stop() error {
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}
