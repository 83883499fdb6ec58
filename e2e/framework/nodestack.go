package framework

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// NodeStackOptions configures StartNodeStack.
type NodeStackOptions struct {
	// Root is the repository (the chart, the test app's source); Dir receives every file
	// and log, and must exist. Its path must be short: the node's folder, at most 38
	// bytes, is Dir/n.
	Root, Dir string
	// Assets holds kube-apiserver and etcd.
	Assets string
	// Registry (host:port on loopback, plain HTTP) receives the images.
	Registry string
	// AuthMount is where the stack's Vault gets a Kubernetes auth method for the cluster
	// (KubernetesAuthMount when empty); a jwt one is at NodeJWTAuthMount.
	AuthMount string
	// TLSVaults starts two more Vaults, each serving HTTPS at the node's address with a
	// private CA and Kubernetes auth at AuthMount: NodeStack.TLSVault, whose CA the
	// chart gives every pod (vault.caBundle), and NodeStack.PrivateVault, whose CA only
	// a pod that names it trusts.
	TLSVaults bool
	// Progress receives one line per step.
	Progress io.Writer
}

// NodeStack is a cluster as users have one, on this machine: a control plane configured
// as a cluster's (pods reach it through the kubernetes Service; the ServiceAccount
// admission plugin runs), a real node (containerd, kubelet, controller-manager,
// scheduler), a release of this tree published by `make release` and the test app on the
// registry, and vault-injector installed by helm from the release's chart, once its
// signatures and provenance are verified, as a 2-replica Deployment on the node in
// self-managed certificate mode, which the apiserver calls through its Service. Nothing
// of the product runs as a host process.
type NodeStack struct {
	API    APIEndpoint
	Node   *Node
	Images NodeImages
	// Release is what was published and verified; the chart installed is Release.Chart.
	Release Release
	// Vault is the Vault the pods log in to (at AuthMount), and VaultAddr where they
	// reach it.
	Vault     VaultClient
	AuthMount string
	VaultAddr string
	// VaultByName is VaultAddr with the node's HostName in place of its IP: the same
	// Vault, reached through the cluster DNS (the chart allows it).
	VaultByName string
	// DownVaultAddr is an address on the node where nothing listens, which pods may name
	// (the chart allows it): a Vault that is down.
	DownVaultAddr string
	// TLSVault and PrivateVault are the Vaults of NodeStackOptions.TLSVaults, at https
	// addresses on the node that pods and the host both use; their certificates name
	// the node's IP.
	TLSVault, PrivateVault VaultClient
	Chart                  Chart
	// KubectlBin is kubectl at the apiserver's version.
	KubectlBin string

	pki   KubeletClientPKI
	stops []func() error
}

// StartNodeStack starts the stack and returns once the chart's replicas are Ready. On
// error, whatever started is stopped.
func StartNodeStack(ctx context.Context, o NodeStackOptions) (s *NodeStack, err error) {
	s = &NodeStack{AuthMount: o.AuthMount}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
			s = nil
		}
	}()
	step := func(msg string) { fmt.Fprintln(o.Progress, msg) }
	step("publishing a release of this tree with make release: image, chart, SBOMs, provenance, signed with a new key")
	if s.Release, err = PublishRelease(ctx, o.Root, o.Dir, o.Registry); err != nil {
		return s, err
	}
	step("verifying the release as docs/install.md asks: cosign verify of the image and the chart, verify-attestation of the provenance")
	if err := VerifyRelease(ctx, s.Release, s.Release.PublicKey); err != nil {
		return s, err
	}
	images := NodeImages{Injector: s.Release.Image}
	if images.App, err = PushTestApp(ctx, o.Root, o.Dir, o.Registry); err != nil {
		return s, err
	}
	step("starting the cluster's control plane: kube-apiserver and etcd as a cluster has them")
	if err := s.startControlPlane(ctx, o); err != nil {
		return s, err
	}
	step("starting a node: containerd, kubelet, controller-manager and scheduler, pods on a bridge of their own")
	bins, err := NodeBinaries(ctx)
	if err != nil {
		return s, err
	}
	s.Node, err = StartNode(ctx, NodeOptions{
		Dir: filepath.Join(o.Dir, "n"), BinDir: bins, API: s.API, KubeletClient: s.pki,
		Registry: o.Registry, SandboxImage: images.App,
		InCluster: true, RootCAFile: filepath.Join(o.Dir, "cluster-certs", "ca.crt"),
	})
	if err != nil {
		return s, err
	}
	s.stops = append(s.stops, s.Node.Stop)
	step(fmt.Sprintf("node %s Ready after %s", s.Node.Name, s.Node.ReadyAfter.Round(time.Millisecond)))
	if err := s.vaultsOnNode(ctx, o, step); err != nil {
		return s, err
	}
	// The webhook runs in a pod: it looks entrypoints up where pods pull from.
	registry, err := s.Node.ServeRegistry(ctx, o.Registry)
	if err != nil {
		return s, err
	}
	s.Images = images.On(registry)
	if s.KubectlBin, err = tools.Kubectl(ctx, o.Progress); err != nil {
		return s, err
	}
	step("installing the chart with the product image: helm install --wait, two replicas on the node")
	begin := time.Now()
	if err := s.installChart(ctx, o, registry); err != nil {
		return s, err
	}
	step(fmt.Sprintf("chart installed, both replicas Ready, in %s", time.Since(begin).Round(time.Millisecond)))
	return s, nil
}

// vaultsOnNode makes the stack's Vault reachable from pods, by the node's address and
// by a host name the cluster DNS answers, picks an address where nothing listens, and
// starts the TLS Vaults if asked.
func (s *NodeStack) vaultsOnNode(ctx context.Context, o NodeStackOptions, step func(string)) error {
	vaultOnNode, err := s.Node.Forward(ctx, strings.TrimPrefix(s.Vault.Addr, "http://"))
	if err != nil {
		return err
	}
	s.VaultAddr = "http://" + vaultOnNode
	_, port, _ := net.SplitHostPort(vaultOnNode)
	s.VaultByName = "http://" + net.JoinHostPort(HostName, port)
	if s.DownVaultAddr, err = s.Node.UnusedAddr(ctx); err != nil {
		return err
	}
	if o.TLSVaults {
		step("starting two Vaults that serve TLS at the node's address, with private CAs")
		if s.TLSVault, err = s.startTLSVault(ctx, o, "vault-tls.log"); err != nil {
			return err
		}
		if s.PrivateVault, err = s.startTLSVault(ctx, o, "vault-private.log"); err != nil {
			return err
		}
	}
	return nil
}

// startControlPlane starts the cluster's apiserver, with the PKI the kubelet's client
// certificate comes from, and starts Vault with Kubernetes and jwt auth for it.
func (s *NodeStack) startControlPlane(ctx context.Context, o NodeStackOptions) error {
	var err error
	if s.pki, err = NewKubeletClientPKI(o.Dir); err != nil {
		return err
	}
	certDir := filepath.Join(o.Dir, "cluster-certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return fmt.Errorf("cluster certificates: %w", err)
	}
	log, err := s.logFile(o, "cluster-control-plane.log")
	if err != nil {
		return err
	}
	cp, err := StartControlPlane(ControlPlaneOptions{
		AssetsDir: o.Assets, Log: log, APIServerArgs: s.pki.APIServerArgs(), InCluster: true, CertDir: certDir,
	})
	if err != nil {
		return err
	}
	s.stops = append(s.stops, cp.Stop)
	s.API = cp.Endpoint()
	vaultLog, err := s.logFile(o, "vault.log")
	if err != nil {
		return err
	}
	s.AuthMount = cmp.Or(s.AuthMount, KubernetesAuthMount)
	v, err := StartVault(ctx, s.API, s.AuthMount, vaultLog)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, v.Stop)
	s.Vault = v.Client()
	return s.Vault.EnableJWTAuth(ctx, NodeJWTAuthMount, s.API)
}

// logFile creates a component's log in the stack's folder, closed when the stack stops.
func (s *NodeStack) logFile(o NodeStackOptions, name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(o.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	s.stops = append(s.stops, f.Close)
	return f, nil
}

// startTLSVault starts a Vault that serves TLS with a private CA, for the node's
// cluster, and returns a client of it at the node's address, where pods reach it.
func (s *NodeStack) startTLSVault(ctx context.Context, o NodeStackOptions, logName string) (VaultClient, error) {
	log, err := s.logFile(o, logName)
	if err != nil {
		return VaultClient{}, err
	}
	v, err := StartTLSVault(ctx, s.API, s.AuthMount, log, s.Node.IP)
	if err != nil {
		return VaultClient{}, err
	}
	s.stops = append(s.stops, v.Stop)
	c := v.Client()
	onNode, err := s.Node.Forward(ctx, strings.TrimPrefix(c.Addr, "https://"))
	if err != nil {
		return VaultClient{}, err
	}
	c.Addr = "https://" + onNode
	return c, nil
}

// RenewalNamespace is the one namespace the suite's release leaves to a second release of
// the chart (e2e's certificate renewal spec), as a platform running two injectors would:
// two injectors must not serve one namespace, as each refuses the other's parts as an
// imitation.
const RenewalNamespace = "cert-renewal"

// E2EWatchInterval is the chart's envexec.watchInterval on the node: short, so a change
// in Vault reaches a running daemon-mode pod within a spec.
const E2EWatchInterval = 2 * time.Second

// installChart installs the release's chart from the registry, by the digest that was
// verified, with the values a platform team would give for this cluster: the image by
// digest at the address pods pull from, Vault and its auth mount, the registry on plain HTTP,
// image-volume delivery allowed, a toleration of the node's taint, and RenewalNamespace
// excluded (left to e2e's second release). Debug logs, so
// the suite's leak canaries see every line the webhook can write.
func (s *NodeStack) installChart(ctx context.Context, o NodeStackOptions, registry string) error {
	helm, err := tools.Helm(ctx, o.Progress)
	if err != nil {
		return err
	}
	home := filepath.Join(o.Dir, "helm")
	if err := os.Mkdir(home, 0o700); err != nil {
		return fmt.Errorf("helm folder: %w", err)
	}
	s.Chart = Chart{
		Helm: helm, Source: "oci://" + s.Release.Chart, Kubeconfig: s.Node.Kubeconfig,
		Release: "vault-injector", Namespace: "vault-injector", Home: home,
	}
	repo, digest, _ := strings.Cut(s.Images.Injector, "@")
	// Pods may name the Vault by host name, and a Vault that is down.
	allowed := []string{s.VaultByName, s.DownVaultAddr}
	vault := map[string]any{"addr": s.VaultAddr, "authPath": s.AuthMount}
	if s.TLSVault.Addr != "" {
		// Pods may name both Vaults with private CAs; every pod trusts TLSVault's.
		ca, err := os.ReadFile(s.TLSVault.CAFile)
		if err != nil {
			return fmt.Errorf("the platform's Vault CA: %w", err)
		}
		allowed = append(allowed, s.TLSVault.Addr, s.PrivateVault.Addr)
		vault["caBundle"] = string(ca)
	}
	vault["allowedAddrs"] = allowed
	values := map[string]any{
		"image":    map[string]any{"repository": repo, "digest": digest},
		"vault":    vault,
		"registry": map[string]any{"insecure": []string{registry}},
		// Daemon-mode pods check their KV v2 secrets often, so a spec sees a change in Vault
		// reach a running pod.
		"envexec": map[string]any{
			"allowedDeliveries": []string{"image-volume"}, "watchInterval": E2EWatchInterval.String(),
			// The audience of the jwt auth roles at NodeJWTAuthMount, for pods that name it.
			"allowedTokenAudiences": []string{JWTAudience},
		},
		"logging": map[string]any{"level": "debug"},
		// A second release serves RenewalNamespace alone (e2e's certificate renewal spec).
		"webhook": map[string]any{"excludeNamespaces": []string{RenewalNamespace}},
		"tolerations": []map[string]string{{
			"key": NodeTaint, "operator": "Exists", "effect": "NoSchedule",
		}},
	}
	if _, err := s.Chart.Install(ctx, values, 3*time.Minute); err != nil {
		return fmt.Errorf("%w\n%s", err, s.Chart.Report(ctx, s.KubectlBin))
	}
	s.stops = append(s.stops, func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return s.Chart.Uninstall(ctx)
	})
	return nil
}

// Kubectl runs kubectl against the cluster as its admin and returns its output.
func (s *NodeStack) Kubectl(ctx context.Context, args ...string) (string, error) {
	return RunKubectl(ctx, s.KubectlBin, s.Node.Kubeconfig, args...)
}

// Stop stops everything in reverse order of start.
func (s *NodeStack) Stop() error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i]())
	}
	s.stops = nil
	return errors.Join(errs...)
}

// WithNodeStack runs fn with a NodeStack of its own (its own Vault and registry), in a
// fresh folder under /tmp whose name starts with prefix, then stops it and removes the
// folder: the whole life of a cluster for programs outside the test suite (the demo, the
// pod start benchmark). The node needs root.
func WithNodeStack(ctx context.Context, prefix string, progress io.Writer, fn func(*NodeStack) error) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the node runs containerd, a kubelet and a bridge")
	}
	dir, err := os.MkdirTemp("/tmp", prefix) // short: shim sockets live below it
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	fmt.Fprintln(progress, "finding kube-apiserver, etcd and the node's binaries (the first run builds them, which takes minutes)")
	assets, err := KubebuilderAssets(ctx, root)
	if err != nil {
		return err
	}
	reg := StartRegistry(nil)
	defer reg.Stop()
	s, err := StartNodeStack(ctx, NodeStackOptions{
		Root: root, Dir: dir, Assets: assets, Registry: reg.Host, Progress: progress,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Stop()) }()
	return fn(s)
}
