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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
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
	API             framework.APIEndpoint `json:"api"`
	Vault           framework.VaultClient `json:"vault"`
	VaultByName     string                `json:"vaultByName"` // Vault.Addr by the host name localhost
	Binaries        framework.Binaries    `json:"binaries"`
	Registry        string                `json:"registry"`
	DownVaultAddr   string                `json:"downVaultAddr"`
	WebhookLog      string                `json:"webhookLog"`
	VaultLog        string                `json:"vaultLog"`
	ControlPlaneLog string                `json:"controlPlaneLog"`
	RegistryLog     string                `json:"registryLog"`
	// Node is the real node (kubelet, containerd) that the node specs' pods run on.
	Node nodeEndpoints `json:"node"`
}

// nodeEndpoints is what the node specs need: the node, the images its pods run, the
// Vault address pods reach, and the chart release that serves them.
type nodeEndpoints struct {
	// API is the node's cluster: an apiserver of its own, as a cluster's.
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
	env     endpoints
	cluster *framework.Cluster
	// nodeCluster is the node's cluster, where the node specs create their objects.
	nodeCluster *framework.Cluster
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	root, err := framework.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "vault-injector-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	e := endpoints{
		WebhookLog:      filepath.Join(dir, "webhook.log"),
		VaultLog:        filepath.Join(dir, "vault.log"),
		ControlPlaneLog: filepath.Join(dir, "control-plane.log"),
		RegistryLog:     filepath.Join(dir, "registry.log"),
	}

	By("building the webhook and envexec from this tree")
	built := make(chan error, 1)
	go func() {
		var err error
		e.Binaries, err = framework.BuildBinaries(ctx, root, dir)
		built <- err
	}()

	By("starting kube-apiserver and etcd with the webhook registered")
	assets, err := framework.KubebuilderAssets(ctx, root)
	Expect(err).NotTo(HaveOccurred())
	cpLog := logFile(e.ControlPlaneLog)
	cp, err := framework.StartControlPlane(framework.ControlPlaneOptions{
		AssetsDir: assets,
		Webhooks:  []*admissionregistrationv1.MutatingWebhookConfiguration{framework.MutatingWebhookConfiguration()},
		Log:       cpLog,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cp.Stop)
	e.API = cp.Endpoint()

	By("starting Vault with Kubernetes and jwt auth against that apiserver, and AppRole auth")
	vault, err := framework.StartVault(ctx, e.API, logFile(e.VaultLog))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vault.Stop)
	e.Vault = vault.Client()
	Expect(e.Vault.EnableAppRoleAuth(ctx)).To(Succeed())
	Expect(e.Vault.EnableJWTAuth(ctx, framework.JWTAuthMount, e.API)).To(Succeed())
	e.VaultByName, err = framework.ByHostName(e.Vault.Addr)
	Expect(err).NotTo(HaveOccurred())

	By("starting an OCI registry for the entrypoint lookup")
	reg := framework.StartRegistry(logFile(e.RegistryLog))
	DeferCleanup(reg.Stop)
	e.Registry = reg.Host

	By("starting the webhook with the rights of its ServiceAccount")
	admin, err := framework.NewCluster(e.API)
	Expect(err).NotTo(HaveOccurred())
	Expect(framework.WebhookRBAC(ctx, admin)).To(Succeed())
	kubeconfig, err := cp.Kubeconfig("vault-injector", framework.WebhookGroup)
	Expect(err).NotTo(HaveOccurred())
	e.DownVaultAddr, err = framework.UnreachableVaultAddr(ctx)
	Expect(err).NotTo(HaveOccurred())
	if err := <-built; err != nil {
		Fail(err.Error())
	}
	wh, err := framework.StartWebhook(ctx, framework.WebhookOptions{
		Binary:    e.Binaries.Webhook,
		Serving:   cp.Serving(),
		VaultAddr: e.Vault.Addr,
		// Pods may name the same Vault by host name, and an address where nothing listens.
		AllowedVaultAddrs: []string{e.Vault.Addr, e.VaultByName, e.DownVaultAddr},
		// The audience of the suite Vault's jwt auth roles, for pods that name it.
		AllowedTokenAudiences: []string{framework.JWTAudience},
		// The test registry speaks plain HTTP. Specs whose pods have no command use only
		// images on it, so no lookup ever leaves loopback.
		InsecureRegistries: []string{e.Registry},
		// Daemon-mode pods check their KV v2 secrets every second or so, so a spec sees a
		// change in Vault reach a running pod; pods may only lengthen it.
		WatchInterval: framework.E2EWatchInterval,
		LogPath:       e.WebhookLog,
		Kubeconfig:    kubeconfig,
	})
	Expect(err).NotTo(HaveOccurred(), "webhook log:\n%s", readTail(e.WebhookLog, 16<<10))
	DeferCleanup(wh.Stop)

	e.Node = startNode(ctx, root, dir, assets, e)

	data, err := json.Marshal(e)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(_ SpecContext, data []byte) {
	Expect(json.Unmarshal(data, &env)).To(Succeed())
	var err error
	cluster, err = framework.NewCluster(env.API)
	Expect(err).NotTo(HaveOccurred())
	nodeCluster, err = framework.NewCluster(env.Node.API)
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(45*time.Minute)) // a cold machine builds kube-apiserver, etcd and vault first

// ReportAfterEach dumps what the components said when a spec fails; the canaries are
// test values, so printing logs is safe.
var _ = ReportAfterEach(func(r SpecReport) {
	defer func() { current, currentNode = nil, nil }()
	if !r.Failed() {
		return
	}
	if currentNode != nil {
		reportNode(currentNode)
		return
	}
	if current != nil {
		GinkgoWriter.Printf("\n===== webhook log, lines about %s =====\n%s\n", current.Namespace, grepLog(env.WebhookLog, current.Namespace))
	}
	for _, p := range []struct {
		name, path string
		size       int
	}{
		{"webhook", env.WebhookLog, 8 << 10},
		{"vault", env.VaultLog, 16 << 10},
		{"registry", env.RegistryLog, 4 << 10},
		{"control plane", env.ControlPlaneLog, 8 << 10},
	} {
		GinkgoWriter.Printf("\n===== %s log (end) =====\n%s\n", p.name, readTail(p.path, p.size))
	}
})

// startNode starts the node's cluster (framework.NodeStack: a real node, and the chart
// installed by helm as users install it), with a Kubernetes auth method in the suite's
// Vault for it.
func startNode(ctx SpecContext, root, dir, assets string, e endpoints) nodeEndpoints {
	s, err := framework.StartNodeStack(ctx, framework.NodeStackOptions{
		Root: root, Dir: dir, Assets: assets, Registry: e.Registry,
		Vault: e.Vault, AuthMount: framework.NodeAuthMount, TLSVaults: true, Progress: GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Stop)
	return nodeEndpoints{
		API: s.API, Kubectl: s.KubectlBin, Name: s.Node.Name, IP: s.Node.IP, Dir: s.Node.Dir, Kubeconfig: s.Node.Kubeconfig,
		Images: s.Images, VaultAddr: s.VaultAddr, Chart: s.Chart, Release: s.Release,
		VaultByName: s.VaultByName, DownVaultAddr: s.DownVaultAddr, TLSVault: s.TLSVault, PrivateVault: s.PrivateVault,
	}
}

// reportNode dumps what a failed node spec needs: the node webhook's lines about its
// namespace, each pod's state and container logs (from the kubelet), and the end of the
// kubelet's and containerd's logs.
func reportNode(f *nodeFixture) {
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

// grepLog returns the lines of a log that mention s: a spec's namespace picks its own
// requests out of the log every process shares.
func grepLog(path, s string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	var b strings.Builder
	for line := range strings.Lines(string(data)) {
		if strings.Contains(line, s) {
			b.WriteString(line)
		}
	}
	return b.String()
}
