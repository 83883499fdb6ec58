package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// NodeOptions configures StartNode.
type NodeOptions struct {
	// Dir receives everything the node writes; it must not exist yet and is removed by
	// Stop. Its path must be short (at most 38 bytes): shim sockets live below it.
	Dir string
	// BinDir holds kubelet, kube-controller-manager, kube-scheduler, containerd and
	// containerd-shim-runc-v2 (hack/tools/build.sh node).
	BinDir string
	// API is the control plane the node joins, as its admin.
	API APIEndpoint
	// KubeletClient is the PKI the control plane was started with
	// (KubeletClientPKI.APIServerArgs), so that `kubectl logs` and `exec` work.
	KubeletClient KubeletClientPKI
	// Registry (host:port, plain HTTP) is where every image comes from, the sandbox
	// image included.
	Registry string
	// SandboxImage is the pod sandbox ("pause") image, on Registry.
	SandboxImage string
	// ServiceCIDR is the apiserver's --service-cluster-ip-range (envtest's 10.0.0.0/24
	// when empty), for kube-controller-manager.
	ServiceCIDR string
	// InCluster says the apiserver was started InCluster: pods reach it through the
	// kubernetes Service, and kube-controller-manager publishes RootCAFile (its CA) to
	// every namespace as kube-root-ca.crt.
	InCluster  bool
	RootCAFile string
}

// Node is a real Kubernetes node on this machine: containerd with Debian's runc, a
// kubelet registered with the control plane, a CNI bridge whose traffic stays on this
// machine, and kube-controller-manager and kube-scheduler, so Deployments and Services
// work. Pods run on it only if they tolerate NodeTaint.
type Node struct {
	// Name is the Node object's name.
	Name string
	// IP is the node's address, on its bridge: pods reach the host there (see Forward).
	IP string
	// Dir holds the node's files and each component's log (<name>.log).
	Dir string
	// Kubeconfig is an admin kubeconfig file, for kubectl.
	Kubeconfig string
	// ReadyAfter is how long the node took from start to Ready.
	ReadyAfter time.Duration

	state     NodeRecord
	procs     []*nodeProc
	closers   []io.Closer
	stopOnce  sync.Once
	stopError error
}

// StartNode starts the node and returns once it is Ready. Leftovers of earlier runs that
// crashed are removed first; on error, whatever started is torn down.
func StartNode(ctx context.Context, o NodeOptions) (n *Node, err error) {
	begin := time.Now()
	if err := checkNodeHost(o); err != nil {
		return nil, err
	}
	if err := sweepNodes(); err != nil {
		return nil, err
	}
	if err := os.Mkdir(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("node folder: %w", err)
	}
	s, err := newNodeState(o.Dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(o.Dir))
	}
	if o.InCluster {
		u, err := url.Parse(o.API.Host)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("apiserver address: %w", err), os.RemoveAll(o.Dir))
		}
		s.APIPort, _ = strconv.Atoi(u.Port())
	}
	if err := s.save(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(o.Dir))
	}
	n = &Node{Name: "vie2e-" + s.ID, IP: s.Gateway, Dir: o.Dir, state: s}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop())
			n = nil
		}
	}()
	if err := n.prepare(o); err != nil {
		return n, err
	}
	if err := n.startComponents(ctx, o); err != nil {
		return n, err
	}
	if err := n.waitReady(ctx, o.API); err != nil {
		return n, err
	}
	n.ReadyAfter = time.Since(begin)
	return n, nil
}

// checkNodeHost names what the machine lacks, rather than letting a component fail later.
func checkNodeHost(o NodeOptions) error {
	if os.Geteuid() != 0 {
		return errors.New("node: run as root (containerd, the kubelet and the bridge need it)")
	}
	if len(o.Dir) > 38 {
		return fmt.Errorf("node folder %s: longer than 38 bytes, too long for shim sockets below it", o.Dir)
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", dnsmasqBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("node: %s missing; run hack/tools/node-packages.sh (make tools): %w", p, err)
		}
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("node: %s missing; run hack/tools/node-packages.sh (make tools): %w", tool, err)
		}
	}
	for _, b := range []string{"kubelet", "kube-controller-manager", "kube-scheduler", "containerd", "containerd-shim-runc-v2"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return fmt.Errorf("node: %s missing in %q; run hack/tools/build.sh node: %w", b, o.BinDir, err)
		}
	}
	return nil
}

// prepare creates the cgroups, the network and every configuration file.
func (n *Node) prepare(o NodeOptions) error {
	p := nodePaths{dir: n.Dir}
	if err := makeCgroups(n.state.PodCgroup, n.state.RuntimeCgroup); err != nil {
		return err
	}
	if err := n.state.setupNetwork(); err != nil {
		return err
	}
	cni, err := n.state.cniConfig()
	if err != nil {
		return err
	}
	for _, d := range []string{p.join("cni", "net.d"), p.shimSocketDir(), p.join("pod-logs"), p.join("volume-plugins")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("node folder: %w", err)
		}
	}
	kubeconfig, err := o.API.Kubeconfig()
	if err != nil {
		return err
	}
	n.Kubeconfig = p.join("admin.kubeconfig")
	files := map[string][]byte{
		p.join("cni", "net.d", "10-"+n.state.Bridge+".conflist"): cni,
		p.join("containerd.toml"):                                []byte(p.containerdConfig("/usr/sbin/runc", "/usr/lib/cni", o.SandboxImage)),
		n.Kubeconfig:                                             kubeconfig,
		// The kubelet's resolvConf: pods with dnsPolicy Default ask the node's DNS too,
		// never the machine's resolver.
		p.join("resolv.conf"): []byte("nameserver " + n.IP + "\n"),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("node config: %w", err)
		}
	}
	return p.writeRegistryHosts(o.Registry)
}

// startComponents starts the cluster DNS, containerd (in the runtime cgroup, which its
// shims inherit), the kubelet, kube-controller-manager and kube-scheduler.
func (n *Node) startComponents(ctx context.Context, o NodeOptions) error {
	p := nodePaths{dir: n.Dir}
	if err := n.startDNS(ctx); err != nil {
		return err
	}
	ctrd, err := n.start("containerd", o.BinDir, "--config", p.join("containerd.toml"))
	if err != nil {
		return err
	}
	if err := joinCgroup(n.state.RuntimeCgroup, ctrd.cmd.Process.Pid); err != nil {
		return err
	}
	if err := ctrd.waitSocket(ctx, p.containerdSocket()); err != nil {
		return err
	}
	ports, err := loopback.FreeAddrs(ctx, 2)
	if err != nil {
		return err
	}
	port, healthz := portOf(ports[0]), portOf(ports[1])
	kubeletConf := p.join("kubelet.yaml")
	if err := os.WriteFile(kubeletConf, []byte(p.kubeletConfig(n.state, port, healthz, o.KubeletClient.CAFile)), 0o600); err != nil {
		return fmt.Errorf("kubelet config: %w", err)
	}
	if _, err := n.start("kubelet", o.BinDir, "--config="+kubeletConf, "--kubeconfig="+n.Kubeconfig,
		"--root-dir="+p.join("kubelet"), "--hostname-override="+n.Name, "--node-ip="+n.IP, "--v=2"); err != nil {
		return err
	}
	cidr := o.ServiceCIDR
	if cidr == "" {
		cidr = "10.0.0.0/24"
	}
	kcm := []string{
		"--kubeconfig=" + n.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--service-cluster-ip-range=" + cidr, "--controllers=*,-serviceaccount-token",
	}
	if o.RootCAFile != "" {
		kcm = append(kcm, "--root-ca-file="+o.RootCAFile)
	}
	if _, err := n.start("kube-controller-manager", o.BinDir, kcm...); err != nil {
		return err
	}
	_, err = n.start("kube-scheduler", o.BinDir, "--kubeconfig="+n.Kubeconfig, "--leader-elect=false", "--secure-port=0")
	return err
}

// waitReady polls the Node object until its Ready condition is True.
func (n *Node) waitReady(ctx context.Context, api APIEndpoint) error {
	c, err := NewCluster(api)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var node corev1.Node
		if err := c.Client.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err == nil {
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		if exited := n.exited(); exited != "" {
			return fmt.Errorf("node %s: %s exited during start-up; its log is %s", n.Name, exited, filepath.Join(n.Dir, exited+".log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready: %w; logs in %s", n.Name, ctx.Err(), n.Dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Forward listens on the node's address and forwards each connection to target
// (host:port, typically on loopback): how pods reach a server of the suite, such as
// Vault, that listens on 127.0.0.1 only. It returns the address pods use.
func (n *Node) Forward(ctx context.Context, target string) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(n.IP, "0"))
	if err != nil {
		return "", fmt.Errorf("forward to %s: %w", target, err)
	}
	n.closers = append(n.closers, ln)
	// Connections outlive the call that opens the port, not the node.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.closers = append(n.closers, closerFunc(func() error { stop(); return nil }))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Stop
			}
			go forward(life, c, target)
		}
	}()
	return ln.Addr().String(), nil
}

// UnusedAddr is http://IP:port on the node where nothing listens: a port the kernel had
// free, closed again, so a pod that dials it is refused.
func (n *Node) UnusedAddr(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(n.IP, "0"))
	if err != nil {
		return "", fmt.Errorf("unused address on the node: %w", err)
	}
	addr := ln.Addr().String()
	return "http://" + addr, ln.Close()
}

// closerFunc makes a function an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func forward(ctx context.Context, c net.Conn, target string) {
	defer c.Close()
	u, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	for _, pair := range [][2]net.Conn{{u, c}, {c, u}} {
		go func() {
			_, _ = io.Copy(pair[0], pair[1]) // ends when either side closes
			if tc, ok := pair[0].(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			done <- struct{}{}
		}()
	}
	<-done
	<-done
}

// Stop stops the components (scheduler and controller-manager, then the kubelet, then
// containerd) and tears down everything else: containers and shims, mounts, bridge,
// iptables chain, cgroups and the node's folder. It is safe to call twice.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		var errs []error
		for _, c := range n.closers {
			errs = append(errs, c.Close())
		}
		for i := len(n.procs) - 1; i >= 0; i-- {
			errs = append(errs, n.procs[i].stop())
		}
		errs = append(errs, n.state.teardown())
		if left := n.state.Leftovers(); len(left) > 0 {
			errs = append(errs, fmt.Errorf("node %s left behind: %s", n.state.ID, strings.Join(left, "; ")))
		}
		n.stopError = errors.Join(errs...)
	})
	return n.stopError
}

// exited names a component that has exited, or is "".
func (n *Node) exited() string {
	for _, p := range n.procs {
		select {
		case <-p.done:
			return p.name
		default:
		}
	}
	return ""
}

// nodeProc is one of the node's processes, its output in <Dir>/<name>.log.
type nodeProc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func (n *Node) start(name, binDir string, args ...string) (*nodeProc, error) {
	log, err := os.Create(filepath.Join(n.Dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	p := &nodeProc{name: name, log: log, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...) //nolint:gosec,noctx // the cached build; lives until Stop
	// containerd finds its shim on PATH; nothing else of the caller's environment counts.
	p.cmd.Env = []string{"PATH=" + binDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + n.Dir}
	p.cmd.Dir = n.Dir
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", name, err), log.Close())
	}
	go func() {
		_ = p.cmd.Wait() // the exit shows in done and the log
		close(p.done)
	}()
	n.procs = append(n.procs, p)
	return p, nil
}

// waitSocket waits until the process accepts connections on a unix socket.
func (p *nodeProc) waitSocket(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if c, err := (&net.Dialer{}).DialContext(ctx, "unix", path); err == nil {
			return c.Close()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up; its log is %s", p.name, p.log.Name())
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w", p.name, path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, kills after 10 s, and closes the log.
func (p *nodeProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // if it already exited, done says so
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.log.Close()
}

func portOf(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}
