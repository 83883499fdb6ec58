//go:build e2e

package e2e

import (
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

	"github.com/vault-injector/vault-injector/e2e/framework"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
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
	// TLSVault serves HTTPS with a private CA that the webhook's --vault-ca-file names,
	// so every pod trusts it; PrivateVault's private CA is trusted by nobody, unless a
	// pod names it (tls-secret). Both have Kubernetes auth like Vault.
	TLSVault     framework.VaultClient `json:"tlsVault"`
	PrivateVault framework.VaultClient `json:"privateVault"`
}

// Shared by the specs of this process; set once in SynchronizedBeforeSuite.
var (
	env     endpoints
	cluster *framework.Cluster
	runner  *framework.Runner
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
	Expect(e.Vault.EnableJWTAuth(ctx, e.API)).To(Succeed())
	e.VaultByName, err = framework.ByHostName(e.Vault.Addr)
	Expect(err).NotTo(HaveOccurred())

	By("starting two Vaults that serve TLS with private CAs, one of them the platform's")
	tlsVault, err := framework.StartTLSVault(ctx, e.API, logFile(filepath.Join(dir, "vault-tls.log")))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(tlsVault.Stop)
	e.TLSVault = tlsVault.Client()
	privateVault, err := framework.StartTLSVault(ctx, e.API, logFile(filepath.Join(dir, "vault-private.log")))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(privateVault.Stop)
	e.PrivateVault = privateVault.Client()

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
		Binary:      e.Binaries.Webhook,
		Serving:     cp.Serving(),
		EnvexecPath: e.Binaries.Envexec,
		VaultAddr:   e.Vault.Addr,
		// Pods may name the same Vault by host name, an address where nothing listens,
		// and the two Vaults with private CAs.
		AllowedVaultAddrs: []string{e.Vault.Addr, e.VaultByName, e.DownVaultAddr, e.TLSVault.Addr, e.PrivateVault.Addr},
		// The audience of the suite Vault's jwt auth roles, for pods that name it.
		AllowedTokenAudiences: []string{framework.JWTAudience},
		// The platform's CA for Vault: every wrapped container trusts TLSVault.
		VaultCAFile: e.TLSVault.CAFile,
		// The test registry speaks plain HTTP. Specs whose pods have no command use only
		// images on it, so no lookup ever leaves loopback.
		InsecureRegistries: []string{e.Registry},
		LogPath:            e.WebhookLog,
		Kubeconfig:         kubeconfig,
	})
	Expect(err).NotTo(HaveOccurred(), "webhook log:\n%s", readTail(e.WebhookLog, 16<<10))
	DeferCleanup(wh.Stop)

	data, err := json.Marshal(e)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(_ SpecContext, data []byte) {
	Expect(json.Unmarshal(data, &env)).To(Succeed())
	var err error
	cluster, err = framework.NewCluster(env.API)
	Expect(err).NotTo(HaveOccurred())
	runner, err = framework.NewRunner(cluster)
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
	if current == nil {
		return
	}
	for _, pod := range current.pods {
		for _, c := range append(append([]corev1.Container{}, pod.Pod.Spec.InitContainers...), pod.Pod.Spec.Containers...) {
			stdout, stderr := pod.Logs(c.Name)
			GinkgoWriter.Printf("\n===== pod %s container %s =====\n--- stdout\n%s\n--- stderr\n%s\n", pod.Pod.Name, c.Name, stdout, stderr)
		}
	}
})

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
