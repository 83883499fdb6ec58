package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// The node's cluster DNS is dnsmasq (Debian's), the part CoreDNS plays in a cluster: the
// kubelet names it as clusterDNS, so every pod with the default dnsPolicy asks it.
const (
	// ClusterDomain is the node's cluster domain (the kubelet's clusterDomain).
	ClusterDomain = "cluster.local"
	// HostName is what the node's DNS answers with the node's IP: where pods reach the
	// host's services (Node.Forward) by name, as they would a Vault outside the cluster.
	HostName = "host.e2e.internal"
	// dnsmasqBin is where Debian's dnsmasq-base puts it (hack/tools/node-packages.sh).
	dnsmasqBin = "/usr/sbin/dnsmasq"
)

// startDNS starts dnsmasq on the node's IP, port 53, and waits until it answers. It knows
// HostName and the kubernetes Service's name, forwards nothing (no upstream: pods resolve
// only the cluster's names), and answers every other name under the cluster domain and
// e2e.internal with NXDOMAIN. It never listens on loopback, so it shares the machine with
// other nodes and any resolver of the host's.
func (n *Node) startDNS(ctx context.Context) error {
	if _, err := n.start(filepath.Base(dnsmasqBin), filepath.Dir(dnsmasqBin),
		"--keep-in-foreground", "--log-facility=-", "--log-queries", "--conf-file=/dev/null",
		"--pid-file=", "--user=nobody", "--group=nogroup",
		"--no-resolv", "--no-hosts", "--no-poll",
		"--bind-interfaces", "--listen-address="+n.IP, "--except-interface=lo", "--port=53",
		"--local=/"+ClusterDomain+"/", "--local=/e2e.internal/",
		"--host-record="+HostName+","+n.IP,
		"--host-record=kubernetes.default.svc."+ClusterDomain+","+ServiceIP,
	); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := n.Resolver()
	for {
		addrs, err := r.LookupHost(ctx, HostName)
		if err == nil && len(addrs) == 1 && addrs[0] == n.IP {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node DNS on %s:53: %s gives %v (its log is in %s): %w", n.IP, HostName, addrs, n.Dir, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Resolver asks the node's DNS only, as a pod does.
func (n *Node) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(n.IP, "53"))
	}}
}
