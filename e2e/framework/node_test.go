package framework

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnescapeMountPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/tmp/a`:            "/tmp/a",
		`/tmp/a\040b`:       "/tmp/a b",
		`/tmp/tab\011x\134`: "/tmp/tab\tx\\",
		`/tmp/end\04`:       `/tmp/end\04`, // too short to be an escape
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRemoveLinksIntoRemovesOnlyLinksBelowTarget(t *testing.T) {
	t.Parallel()
	dir, target := t.TempDir(), t.TempDir()
	mine := filepath.Join(dir, "mine.log")
	other := filepath.Join(dir, "other.log")
	sibling := filepath.Join(dir, "sibling.log")
	plain := filepath.Join(dir, "plain.log")
	for link, dst := range map[string]string{
		mine: filepath.Join(target, "pod", "0.log"), other: "/var/log/pods/x/0.log",
		sibling: target + "-other/0.log", // a prefix of the name is not "below"
	} {
		if err := os.Symlink(dst, link); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeLinksInto(dir, target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(mine); !os.IsNotExist(err) {
		t.Errorf("the link into the node's folder is still there (%v)", err)
	}
	for _, p := range []string{other, sibling, plain} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

func testNodeState() NodeRecord {
	return NodeRecord{
		ID: "abc123", Dir: "/tmp/e2e/n", Bridge: "vie2e-abc123", Chain: "VIE2E-ABC123",
		Subnet: "10.241.7.0/24", Gateway: "10.241.7.1", PodCgroup: "/vie2e-abc123",
		RuntimeCgroup: "/vie2e-abc123-runtime",
	}
}

// The pods' network: no masquerading (nothing leaves the machine), a default route (else
// every ClusterIP is unreachable), IPAM state in the node's folder.
func TestCNIConfig(t *testing.T) {
	t.Parallel()
	data, err := testNodeState().cniConfig()
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
			IPMasq bool   `json:"ipMasq"`
			IPAM   struct {
				Ranges  [][]map[string]string `json:"ranges"`
				Routes  []map[string]string   `json:"routes"`
				DataDir string                `json:"dataDir"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 1 {
		t.Fatalf("want one plugin, got %s", data)
	}
	p := conf.Plugins[0]
	if p.Type != "bridge" || p.Bridge != "vie2e-abc123" || p.IPMasq {
		t.Errorf("want the node's bridge without masquerading, got %s", data)
	}
	if len(p.IPAM.Routes) != 1 || p.IPAM.Routes[0]["dst"] != "0.0.0.0/0" {
		t.Errorf("want a default route, got %v", p.IPAM.Routes)
	}
	if p.IPAM.Ranges[0][0]["subnet"] != "10.241.7.0/24" || p.IPAM.Ranges[0][0]["gateway"] != "10.241.7.1" {
		t.Errorf("want the node's subnet and gateway, got %v", p.IPAM.Ranges)
	}
	if !strings.HasPrefix(p.IPAM.DataDir, "/tmp/e2e/n/") {
		t.Errorf("IPAM state outside the node's folder: %s", p.IPAM.DataDir)
	}
}

// Every path containerd writes is in the node's folder, and the settings this kind of
// machine needs are there.
func TestContainerdConfig(t *testing.T) {
	t.Parallel()
	conf := nodePaths{dir: "/tmp/e2e/n"}.containerdConfig("/usr/sbin/runc", "/usr/lib/cni", "reg:5000/pause@sha256:1")
	for _, want := range []string{
		"version = 3", "restrict_oom_score_adj = true", "netns_mounts_under_state_dir = true",
		`sandbox = "reg:5000/pause@sha256:1"`, `BinaryName = "/usr/sbin/runc"`,
		"[plugins.'io.containerd.nri.v1.nri']\n  disable = true",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("containerd config lacks %q:\n%s", want, conf)
		}
	}
	for line := range strings.Lines(conf) {
		if _, value, ok := strings.Cut(line, ` = "/`); ok && !strings.HasPrefix(value, "tmp/e2e/n/") &&
			!strings.Contains(line, "runc\"") && !strings.Contains(line, "/usr/lib/cni") {
			t.Errorf("a path outside the node's folder: %s", line)
		}
	}
}

func TestKubeletConfig(t *testing.T) {
	t.Parallel()
	conf := nodePaths{dir: "/tmp/e2e/n"}.kubeletConfig(testNodeState(), 10250, 10248, "/tmp/e2e/ca.crt")
	for _, want := range []string{
		"failCgroupV1: false", "cgroupRoot: /vie2e-abc123", "address: 10.241.7.1",
		"anonymous: {enabled: false}", "clientCAFile: /tmp/e2e/ca.crt", "authorization: {mode: Webhook}",
		"registerWithTaints: [{key: " + NodeTaint + ", effect: NoSchedule}]", "podLogsDir: /tmp/e2e/n/pod-logs",
		"makeIPTablesUtilChains: false", "containerRuntimeEndpoint: unix:///tmp/e2e/n/c.sock",
		"clusterDNS: [10.241.7.1]", "clusterDomain: cluster.local", "resolvConf: /tmp/e2e/n/resolv.conf",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, conf)
		}
	}
}

func TestLeftoversNamesWhatIsStillThere(t *testing.T) {
	dir := t.TempDir()
	r := NodeRecord{
		ID: "leftovers-test", Dir: dir, Bridge: "vie2e-none", Chain: "VIE2E-NONE-TEST",
		PodCgroup: "vie2e-none-test", RuntimeCgroup: "vie2e-none-test-runtime",
	}
	sleeper := exec.CommandContext(t.Context(), "sh", "-c", "sleep 60", dir+"/marker") // $0 names the folder
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	left := strings.Join(r.Leftovers(), "\n")
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	for _, want := range []string{"folder " + dir, "process "} {
		if !strings.Contains(left, want) {
			t.Errorf("Leftovers = %q, want it to name %q", left, want)
		}
	}
	for _, never := range []string{"record", "bridge", "cgroup", "iptables"} {
		if strings.Contains(left, never) {
			t.Errorf("Leftovers = %q names a %s that does not exist", left, never)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if left := r.Leftovers(); len(left) != 0 {
		t.Errorf("Leftovers of a removed node = %q", left)
	}
}
