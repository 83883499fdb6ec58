package framework

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// setupNetwork makes the node's bridge with its address (the pods' gateway, where the
// kubelet, Vault and the apiserver's kubelet traffic meet), and an iptables chain that
// drops anything forwarded between the bridge and any other interface: pods reach each
// other and this machine's addresses, never beyond it (the bridge plugin turns on IP
// forwarding, and pods have a default route). With APIPort, a nat chain of the same name
// sends the pods' connections to the kubernetes Service (ServiceIP:443) to the apiserver.
func (s NodeRecord) setupNetwork() error {
	steps := [][]string{
		{"ip", "link", "add", s.Bridge, "type", "bridge"},
		{"ip", "addr", "add", s.Gateway + "/24", "dev", s.Bridge},
		{"ip", "link", "set", s.Bridge, "up"},
		{"iptables", "-w", "-N", s.Chain},
		{"iptables", "-w", "-A", s.Chain, "-i", s.Bridge, "!", "-o", s.Bridge, "-j", "DROP"},
		{"iptables", "-w", "-A", s.Chain, "-o", s.Bridge, "!", "-i", s.Bridge, "-j", "DROP"},
		{"iptables", "-w", "-I", "FORWARD", "1", "-j", s.Chain},
	}
	if s.APIPort > 0 {
		// The kubernetes Service, as kube-proxy would make it, for this node's pods only.
		steps = append(steps,
			[]string{"iptables", "-w", "-t", "nat", "-N", s.Chain},
			[]string{
				"iptables", "-w", "-t", "nat", "-A", s.Chain, "-s", s.Subnet, "-d", ServiceIP + "/32",
				"-p", "tcp", "--dport", "443", "-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", s.Gateway, s.APIPort),
			},
			[]string{"iptables", "-w", "-t", "nat", "-I", "PREROUTING", "1", "-j", s.Chain})
	}
	for _, argv := range steps {
		if err := run(argv...); err != nil {
			return fmt.Errorf("node network: %w", err)
		}
	}
	return nil
}

// removeNetwork deletes the bridge (the pods' veths went with their namespaces) and the
// iptables chain with its jump; what is already gone is no error.
func (s NodeRecord) removeNetwork() error {
	var errs []error
	if _, err := os.Stat(filepath.Join("/sys/class/net", s.Bridge)); err == nil {
		errs = append(errs, run("ip", "link", "del", s.Bridge))
	}
	for table, hook := range map[string]string{"filter": "FORWARD", "nat": "PREROUTING"} {
		if run("iptables", "-w", "-t", table, "-n", "-L", s.Chain) != nil {
			continue
		}
		for range 10 { // one jump, unless a step was repeated by hand
			if run("iptables", "-w", "-t", table, "-D", hook, "-j", s.Chain) != nil {
				break
			}
		}
		errs = append(errs, run("iptables", "-w", "-t", table, "-F", s.Chain), run("iptables", "-w", "-t", table, "-X", s.Chain))
	}
	return errors.Join(errs...)
}

// cniConfig is the node's one network: the bridge above, addresses from the subnet
// (host-local, its state in the node's folder), and a default route, without which pods
// could not reach a ClusterIP ("Network is unreachable"). No masquerading: nothing
// leaves this machine.
func (s NodeRecord) cniConfig() ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       s.Bridge,
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": s.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": s.Subnet, "gateway": s.Gateway}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": filepath.Join(s.Dir, "cni", "ipam"),
			},
		}},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cni config: %w", err)
	}
	return data, nil
}

// run runs a host networking command, with its output in the error.
func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput() //nolint:gosec,noctx // fixed tools, quick
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
