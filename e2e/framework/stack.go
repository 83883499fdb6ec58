package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Stack is the whole product on one machine: control plane with the webhook registered,
// Vault with Kubernetes auth, the webhook process, and a pod runner. The demo uses it;
// the e2e suite starts the same parts one by one so each gets its own DeferCleanup.
type Stack struct {
	ControlPlane *ControlPlane
	Cluster      *Cluster
	Vault        *Vault
	Registry     *Registry
	Webhook      *Webhook
	Runner       *Runner
	// Dir holds the binaries and the components' logs.
	Dir string

	stops []func() error
}

// WithStack runs fn with a stack started in a fresh temporary folder whose name starts
// with prefix, then stops the stack and removes the folder: the whole life of the stack
// for programs outside the test suite (the demo, the pod start benchmark). The pod
// runner makes namespaces, so it needs root.
func WithStack(ctx context.Context, prefix string, progress io.Writer, fn func(*Stack) error) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the pod runner creates PID and mount namespaces")
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	stack, err := StartStack(ctx, dir, progress)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stack.Stop()) }()
	return fn(stack)
}

// StartStack builds the binaries and starts every component, logging into dir.
// progress receives one line per step. On error, whatever started is stopped.
func StartStack(ctx context.Context, dir string, progress io.Writer) (s *Stack, err error) {
	s = &Stack{Dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
			s = nil
		}
	}()
	root, err := RepoRoot()
	if err != nil {
		return s, err
	}
	fmt.Fprintln(progress, "finding kube-apiserver and etcd (the first run builds them, which takes minutes)")
	assets, err := KubebuilderAssets(ctx, root)
	if err != nil {
		return s, err
	}
	fmt.Fprintln(progress, "building vault-injector and envexec")
	bins, err := BuildBinaries(ctx, root, dir)
	if err != nil {
		return s, err
	}
	if err := s.startServers(ctx, assets, bins); err != nil {
		return s, err
	}
	fmt.Fprintln(progress, "all components up; logs in", dir)
	return s, nil
}

func (s *Stack) startServers(ctx context.Context, assets string, bins Binaries) error {
	cpLog, err := s.logFile("control-plane.log")
	if err != nil {
		return err
	}
	s.ControlPlane, err = StartControlPlane(ControlPlaneOptions{
		AssetsDir: assets,
		Webhooks:  []*admissionregistrationv1.MutatingWebhookConfiguration{MutatingWebhookConfiguration()},
		Log:       cpLog,
	})
	if err != nil {
		return err
	}
	s.stops = append(s.stops, s.ControlPlane.Stop)
	if s.Cluster, err = NewCluster(s.ControlPlane.Endpoint()); err != nil {
		return err
	}
	vaultLog, err := s.logFile("vault.log")
	if err != nil {
		return err
	}
	if s.Vault, err = StartVault(ctx, s.ControlPlane.Endpoint(), vaultLog); err != nil {
		return err
	}
	s.stops = append(s.stops, s.Vault.Stop)
	if err := WebhookRBAC(ctx, s.Cluster); err != nil {
		return err
	}
	kubeconfig, err := s.ControlPlane.Kubeconfig("vault-injector", WebhookGroup)
	if err != nil {
		return err
	}
	s.Registry = StartRegistry(nil)
	s.stops = append(s.stops, func() error { s.Registry.Stop(); return nil })
	s.Webhook, err = StartWebhook(ctx, WebhookOptions{
		Binary: bins.Webhook, Serving: s.ControlPlane.Serving(), EnvexecPath: bins.Envexec,
		VaultAddr: s.Vault.Client().Addr, InsecureRegistries: []string{s.Registry.Host},
		LogPath: filepath.Join(s.Dir, "webhook.log"), Kubeconfig: kubeconfig,
	})
	if err != nil {
		return err
	}
	s.stops = append(s.stops, s.Webhook.Stop)
	s.Runner, err = NewRunner(s.Cluster)
	return err
}

func (s *Stack) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(s.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	s.stops = append(s.stops, f.Close)
	return f, nil
}

// Stop stops the components in reverse order of start.
func (s *Stack) Stop() error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i]())
	}
	s.stops = nil
	return errors.Join(errs...)
}
