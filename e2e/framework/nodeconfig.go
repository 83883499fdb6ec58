package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// NodeTaint keeps every pod off the node unless it tolerates the taint: a pod is on the
// node only because a spec put it there.
const NodeTaint = "e2e.vault-injector.io/node"

// Kubeconfig renders the endpoint's admin credentials as a kubeconfig, for the node's
// components and for kubectl.
func (e APIEndpoint) Kubeconfig() ([]byte, error) {
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"e2e": {Server: e.Host, CertificateAuthorityData: e.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"admin": {ClientCertificateData: e.CertData, ClientKeyData: e.KeyData}},
		Contexts:       map[string]*clientcmdapi.Context{"e2e": {Cluster: "e2e", AuthInfo: "admin"}},
		CurrentContext: "e2e",
	}
	data, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, fmt.Errorf("render kubeconfig: %w", err)
	}
	return data, nil
}

// nodePaths are the node's files, all under its folder.
type nodePaths struct {
	dir string
}

func (p nodePaths) join(elem ...string) string {
	return filepath.Join(append([]string{p.dir}, elem...)...)
}

// containerdSocket is short on purpose: a unix socket path has at most 107 bytes.
func (p nodePaths) containerdSocket() string { return p.join("c.sock") }

// shimSocketDir holds one socket per shim, each named by a 64-character hash.
func (p nodePaths) shimSocketDir() string { return p.join("s") }

// containerdConfig is containerd's CRI configuration: every path in the node's folder,
// the registry reached over plain HTTP, the sandbox image pinned (it comes from the local
// registry like every image), Debian's runc, and the CNI bridge. oom_score_adj is not
// lowered (this kind of machine forbids it, and runc would fail).
func (p nodePaths) containerdConfig(runc, cniBin, sandboxImage string) string {
	q := strconv.Quote
	return strings.Join([]string{
		"version = 3",
		"root = " + q(p.join("containerd", "root")),
		"state = " + q(p.join("containerd", "state")),
		"[grpc]", "  address = " + q(p.containerdSocket()),
		"[ttrpc]", "  address = " + q(p.containerdSocket()+".ttrpc"),
		"[debug]", "  address = ''",
		"[metrics]", "  address = ''",
		"[plugins.'io.containerd.internal.v1.opt']", "  path = " + q(p.join("containerd", "opt")),
		"[plugins.'io.containerd.nri.v1.nri']", "  disable = true",
		"[plugins.'io.containerd.shim.v1.manager']", "  socket_dir = " + q(p.shimSocketDir()),
		"[plugins.'io.containerd.cri.v1.images']", "  snapshotter = 'overlayfs'",
		"[plugins.'io.containerd.cri.v1.images'.pinned_images]", "  sandbox = " + q(sandboxImage),
		"[plugins.'io.containerd.cri.v1.images'.registry]", "  config_path = " + q(p.join("certs.d")),
		"[plugins.'io.containerd.cri.v1.runtime']",
		"  restrict_oom_score_adj = true",
		"  netns_mounts_under_state_dir = true",
		"  cdi_spec_dirs = []",
		"[plugins.'io.containerd.cri.v1.runtime'.cni]",
		"  bin_dirs = [" + q(cniBin) + "]",
		"  conf_dir = " + q(p.join("cni", "net.d")),
		"[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
		"  BinaryName = " + q(runc),
		"  Root = " + q(p.join("runc")),
		"",
	}, "\n")
}

// registryHosts tells containerd to pull from the registry over plain HTTP.
func (p nodePaths) writeRegistryHosts(registry string) error {
	dir := p.join("certs.d", registry)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("registry hosts: %w", err)
	}
	hosts := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n",
		"http://"+registry, "http://"+registry)
	if err := os.WriteFile(filepath.Join(dir, "hosts.toml"), []byte(hosts), 0o600); err != nil {
		return fmt.Errorf("registry hosts: %w", err)
	}
	return nil
}

// kubeletConfig is the kubelet's configuration for this machine: cgroup v1 allowed
// (failCgroupV1), cgroupfs under the node's own cgroupRoot, no swap or allocatable
// enforcement, no iptables chains of its own, pod logs in the node's folder, the taint,
// and apiserver access only with the client certificate from pki's CA (no anonymous
// access; the apiserver decides what that user may do).
func (p nodePaths) kubeletConfig(s NodeRecord, port, healthzPort int, clientCA string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[4]s
failSwapOn: false
enforceNodeAllocatable: []
localStorageCapacityIsolation: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://%[5]s
podLogsDir: %[6]s
volumePluginDir: %[7]s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
registerWithTaints: [{key: %[8]s, effect: NoSchedule}]
clusterDNS: [%[1]s]
clusterDomain: %[10]s
resolvConf: %[11]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[9]s}
authorization: {mode: Webhook}
`, s.Gateway, port, healthzPort, s.PodCgroup, p.containerdSocket(), p.join("pod-logs"),
		p.join("volume-plugins"), NodeTaint, clientCA, ClusterDomain, p.join("resolv.conf"))
}
