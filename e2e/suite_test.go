//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	ctrllog.SetLogger(GinkgoLogr) // envtest logs through it; without one it prints a stack
	RunSpecs(t, "vault-injector e2e")
}

// endpoints is what process 1 hands every Ginkgo process: how to reach each component
// and where their logs are.
type endpoints struct {
	// Vault is the Vault that the node's pods log in to, as its root.
	Vault    framework.VaultClient `json:"vault"`
	Registry string                `json:"registry"`
	// LogDir holds every component's log but the node's own (Node.Dir): the control plane's,
	// each Vault's, the registry's.
	LogDir          string `json:"logDir"`
	VaultLog        string `json:"vaultLog"`
	ControlPlaneLog string `json:"controlPlaneLog"`
	RegistryLog     string `json:"registryLog"`
	// Node is the real node (kubelet, containerd) that every spec's pods run on.
	Node nodeEndpoints `json:"node"`
}

// nodeEndpoints is what the specs need: the node, the images its pods run, the Vault
// address pods reach, and the chart release that serves them.
type nodeEndpoints struct {
	// API is the cluster's apiserver.
	API  framework.APIEndpoint `json:"api"`
	Name string                `json:"name"`
	// IP is the node's address: pods reach listeners of the host's there.
	IP         string               `json:"ip"`
	Dir        string               `json:"dir"`
	Kubeconfig string               `json:"kubeconfig"`
	Images     framework.NodeImages `json:"images"`
	VaultAddr  string               `json:"vaultAddr"`
	// VaultByName is the same Vault by a host name that the node's DNS resolves.
	VaultByName string `json:"vaultByName"`
	// DownVaultAddr is an address on the node where no Vault listens, allowed by the chart.
	DownVaultAddr string `json:"downVaultAddr"`
	// Chart is the product, installed by helm as a 2-replica Deployment on the node.
	Chart framework.Chart `json:"chart"`
	// Kubectl is kubectl at the apiserver's version (hack/tools), for what users run.
	Kubectl string `json:"kubectl"`
	// Release is what `make release` published and the chart was installed from.
	Release framework.Release `json:"release"`
	// TLSVault serves HTTPS at the node's address with a private CA that the chart's
	// vault.caBundle names, so every pod trusts it; PrivateVault's private CA is trusted
	// by nobody, unless a pod names it (tls-secret). Both have Kubernetes auth at
	// framework.NodeAuthMount.
	TLSVault     framework.VaultClient `json:"tlsVault"`
	PrivateVault framework.VaultClient `json:"privateVault"`
}

// Shared by the specs of this process; set once in SynchronizedBeforeSuite.
var (
	env endpoints
	// nodeCluster is the cluster whose node runs every spec's pods.
	nodeCluster *framework.Cluster
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	root, err := framework.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "vault-injector-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	e := endpoints{
		LogDir:          dir,
		VaultLog:        filepath.Join(dir, "vault.log"),
		ControlPlaneLog: filepath.Join(dir, "cluster-control-plane.log"),
		RegistryLog:     filepath.Join(dir, "registry.log"),
	}

	By("starting an OCI registry for the release, the test app and the entrypoint lookup")
	reg := framework.StartRegistry(logFile(e.RegistryLog))
	DeferCleanup(reg.Stop)
	e.Registry = reg.Host

	assets, err := framework.KubebuilderAssets(ctx, root)
	Expect(err).NotTo(HaveOccurred())
	e.Node, e.Vault = startNode(ctx, root, dir, assets, e.Registry)
	By("enabling AppRole auth in Vault, beside the Kubernetes and jwt auth of the cluster")
	Expect(e.Vault.EnableAppRoleAuth(ctx)).To(Succeed())

	data, err := json.Marshal(e)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(_ SpecContext, data []byte) {
	Expect(json.Unmarshal(data, &env)).To(Succeed())
	var err error
	nodeCluster, err = framework.NewCluster(env.Node.API)
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(45*time.Minute)) // a cold machine builds kube-apiserver, etcd and vault first

// ReportAfterEach dumps what the components said when a spec fails; the canaries are
// test values, so printing logs is safe.
var _ = ReportAfterEach(func(r SpecReport) {
	defer func() { current = nil }()
	if !r.Failed() {
		return
	}
	if current != nil {
		reportNode(current)
	}
	for _, p := range []struct {
		name, path string
		size       int
	}{
		{"vault", env.VaultLog, 16 << 10},
		{"registry", env.RegistryLog, 4 << 10},
		{"control plane", env.ControlPlaneLog, 8 << 10},
	} {
		GinkgoWriter.Printf("\n===== %s log (end) =====\n%s\n", p.name, readTail(p.path, p.size))
	}
})

// startNode starts the cluster (framework.NodeStack: a real node, a Vault with Kubernetes
// auth for it, and the chart installed by helm as users install it) and returns how to
// reach it and its Vault.
func startNode(ctx SpecContext, root, dir, assets, registry string) (nodeEndpoints, framework.VaultClient) {
	s, err := framework.StartNodeStack(ctx, framework.NodeStackOptions{
		Root: root, Dir: dir, Assets: assets, Registry: registry,
		AuthMount: framework.NodeAuthMount, TLSVaults: true, Progress: GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Stop)
	return nodeEndpoints{
		API: s.API, Kubectl: s.KubectlBin, Name: s.Node.Name, IP: s.Node.IP, Dir: s.Node.Dir, Kubeconfig: s.Node.Kubeconfig,
		Images: s.Images, VaultAddr: s.VaultAddr, Chart: s.Chart, Release: s.Release,
		VaultByName: s.VaultByName, DownVaultAddr: s.DownVaultAddr, TLSVault: s.TLSVault, PrivateVault: s.PrivateVault,
	}, s.Vault
}

// reportNode dumps what a failed node spec needs: the node webhook's lines about its
// namespace, each pod's state and container logs (from the kubelet), and the end of the
// kubelet's and containerd's logs.
func reportNode(f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	GinkgoWriter.Printf("\n===== webhook replicas =====\n%s\n", env.Node.Chart.Report(ctx, env.Node.Kubectl))
	for _, name := range f.pods {
		var pod corev1.Pod
		if err := nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: f.Namespace, Name: name}, &pod); err != nil {
			GinkgoWriter.Printf("\n===== pod %s: %v =====\n", name, err)
			continue
		}
		status, _ := json.MarshalIndent(pod.Status, "", "  ")
		GinkgoWriter.Printf("\n===== pod %s status =====\n%s\n", name, status)
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			data, err := nodeCluster.Clientset.CoreV1().Pods(f.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
			GinkgoWriter.Printf("\n===== pod %s container %s (err %v) =====\n%s\n", name, c.Name, err, data)
		}
	}
	for _, c := range []string{"kubelet", "containerd"} {
		GinkgoWriter.Printf("\n===== %s log (end) =====\n%s\n", c, readTail(filepath.Join(env.Node.Dir, c+".log"), 8<<10))
	}
}

// logFile opens a component log that every process can read later.
func logFile(path string) *os.File {
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.Close)
	return f
}

// readTail returns the last size bytes of a log, where a failure's cause usually is.
func readTail(path string, size int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(data) > size {
		data = data[len(data)-size:]
	}
	return string(data)
}

// linesWith returns the lines of text that mention s.
func linesWith(text, s string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			b.WriteString(line)
		}
	}
	return b.String()
}
