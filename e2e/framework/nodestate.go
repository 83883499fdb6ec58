package framework

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NodeStateDir records every running node's host-wide resources (bridge, iptables chain,
// cgroups, folder), so that a later run can remove what a crashed one left behind. It is
// outside the suite's temp dir on purpose: that folder's name is random.
const NodeStateDir = "/run/vault-injector-e2e"

// NodeRecord is one node's host-wide resources, as StartNode records them in
// NodeStateDir, named after its id so that nodes of concurrent runs never share one.
type NodeRecord struct {
	ID string `json:"id"`
	// Owner is the process that started the node; while it lives, the node is in use.
	Owner int `json:"owner"`
	// Dir holds everything the node writes: configs, containerd's and the kubelet's
	// state, pod logs, sockets.
	Dir string `json:"dir"`
	// Bridge is the CNI bridge; Chain is the iptables chain confining its traffic.
	Bridge string `json:"bridge"`
	Chain  string `json:"chain"`
	// Subnet is the pods' IPv4 /24; Gateway is the bridge's (the node's) address in it.
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
	// PodCgroup is the kubelet's cgroupRoot; RuntimeCgroup holds containerd and its shims.
	PodCgroup     string `json:"podCgroup"`
	RuntimeCgroup string `json:"runtimeCgroup"`
	// APIPort is the apiserver's port on this machine, where the node sends the pods'
	// connections to the kubernetes Service (0: none).
	APIPort int `json:"apiPort"`
}

// newNodeState names a node's resources: the bridge name fits IFNAMSIZ, and the subnet
// is a /24 of 10.241.0.0/16 no interface here has yet.
func newNodeState(dir string) (NodeRecord, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return NodeRecord{}, fmt.Errorf("node id: %w", err)
	}
	id := hex.EncodeToString(b)
	s := NodeRecord{
		ID: id, Owner: os.Getpid(), Dir: dir,
		Bridge: "vie2e-" + id, Chain: "VIE2E-" + strings.ToUpper(id),
		PodCgroup: "/vie2e-" + id, RuntimeCgroup: "/vie2e-" + id + "-runtime",
	}
	used, err := exec.Command("ip", "-4", "-o", "addr", "show").Output() //nolint:noctx // a quick local query
	if err != nil {
		return s, fmt.Errorf("list addresses: %w", err)
	}
	for third := int(b[0])%250 + 1; ; third = third%250 + 1 {
		prefix := fmt.Sprintf("10.241.%d.", third)
		if !strings.Contains(string(used), " "+prefix) {
			s.Subnet, s.Gateway = prefix+"0/24", prefix+"1"
			return s, nil
		}
		if third == int(b[0])%250 {
			return s, errors.New("node network: every /24 of 10.241.0.0/16 is in use here")
		}
	}
}

func (s NodeRecord) path() string { return filepath.Join(NodeStateDir, s.ID+".json") }

func (s NodeRecord) save() error {
	if err := os.MkdirAll(NodeStateDir, 0o700); err != nil {
		return fmt.Errorf("node state: %w", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("node state: %w", err)
	}
	if err := os.WriteFile(s.path(), data, 0o600); err != nil {
		return fmt.Errorf("node state: %w", err)
	}
	return nil
}

// sweepNodes tears down every recorded node whose owner is gone: what a crashed or
// killed run left (processes, shims, mounts, bridge, iptables chain, cgroups, folder).
func sweepNodes() error {
	entries, err := os.ReadDir(NodeStateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep old nodes: %w", err)
	}
	var errs []error
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(NodeStateDir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var s NodeRecord
		if err := json.Unmarshal(data, &s); err != nil || s.ID == "" {
			errs = append(errs, fmt.Errorf("node state %s: unreadable", e.Name()))
			continue
		}
		if s.Owner > 0 && syscall.Kill(s.Owner, 0) == nil && s.Owner != os.Getpid() {
			continue // a live run's node
		}
		errs = append(errs, s.teardown())
	}
	return errors.Join(errs...)
}

// NodeRecords are the records of every node on this machine, running or left behind by
// a run that crashed (the next StartNode removes those).
func NodeRecords() ([]NodeRecord, error) {
	files, err := filepath.Glob(filepath.Join(NodeStateDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var records []NodeRecord
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // stopped meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("node record %s: %w", f, err)
		}
		var r NodeRecord
		if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
			return nil, fmt.Errorf("node record %s: unreadable", f)
		}
		records = append(records, r)
	}
	return records, nil
}

// Leftovers names what of the node is still on this machine: its record, folder, bridge,
// iptables chains, cgroups, mounts under its folder and processes whose command line names
// its folder. Empty once Stop (or the next run's sweep) has removed it.
func (s NodeRecord) Leftovers() []string {
	var left []string
	exists := func(what, path string) {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			left = append(left, what+" "+path)
		}
	}
	exists("record", s.path())
	exists("folder", s.Dir)
	exists("bridge", filepath.Join("/sys/class/net", s.Bridge))
	for _, h := range cgroupHierarchies() {
		exists("cgroup", filepath.Join(h, s.PodCgroup))
		exists("cgroup", filepath.Join(h, s.RuntimeCgroup))
	}
	for _, table := range []string{"filter", "nat"} {
		if run("iptables", "-w", "-t", table, "-n", "-L", s.Chain) == nil {
			left = append(left, "iptables chain "+table+"/"+s.Chain)
		}
	}
	return append(left, UsersOf(s.Dir)...)
}

// UsersOf names what still uses a folder that should be gone: mounts under it, and
// processes whose command line names a path in it.
func UsersOf(dir string) []string {
	var users []string
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(mounts, []byte(dir+"/")) {
		users = append(users, "mounts under "+dir)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if cmdline, err := os.ReadFile(p); err == nil && bytes.Contains(cmdline, []byte(dir+"/")) {
			users = append(users, "process "+filepath.Base(filepath.Dir(p))+": "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return users
}

// teardown removes everything of the node that its processes' exit does not: processes
// left in its cgroups (containers, pause, shims), mounts under its folder, the bridge, the
// iptables chain, the kubelet's /var/log/containers links, the cgroups, the folder and
// the state file. Each step runs even if an earlier one failed.
func (s NodeRecord) teardown() error {
	errs := []error{
		killCgroups(s.PodCgroup, s.RuntimeCgroup),
		unmountUnder(s.Dir),
	}
	errs = append(errs, s.removeNetwork())
	errs = append(errs, removeLinksInto("/var/log/containers", s.Dir))
	errs = append(errs, removeCgroups(s.PodCgroup, s.RuntimeCgroup))
	if s.Dir != "" {
		errs = append(errs, os.RemoveAll(s.Dir))
	}
	if err := os.Remove(s.path()); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down node %s: %w", s.ID, err)
	}
	return nil
}

// cgroupHierarchies are the cgroup v1 hierarchies (and the v2 one, on a v2 or hybrid
// host) under /sys/fs/cgroup.
func cgroupHierarchies() []string {
	var out []string
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() { // symbolic links such as cpu,cpuacct name a hierarchy twice
			out = append(out, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return out
}

// makeCgroups creates the cgroups in every hierarchy: the kubelet refuses a cgroupRoot
// that does not exist.
func makeCgroups(names ...string) error {
	for _, h := range cgroupHierarchies() {
		if filepath.Base(h) == "unified" {
			continue // the v2 tree of a hybrid host; the kubelet uses the v1 ones
		}
		for _, n := range names {
			if err := os.MkdirAll(filepath.Join(h, n), 0o750); err != nil {
				return fmt.Errorf("cgroup %s: %w", n, err)
			}
			if err := inheritCpuset(h, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// inheritCpuset gives a new v1 cpuset cgroup its parent's CPUs and memory nodes: it
// starts with none, and no process can join it ("no space left on device").
func inheritCpuset(hierarchy, name string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		parent, err := os.ReadFile(filepath.Join(hierarchy, f))
		if err != nil {
			return nil //nolint:nilerr // not the cpuset hierarchy
		}
		if err := os.WriteFile(filepath.Join(hierarchy, name, f), parent, 0o600); err != nil { //nolint:gosec // our own cgroup's name
			return fmt.Errorf("cgroup %s: %s: %w", name, f, err)
		}
	}
	return nil
}

// joinCgroup moves pid into the cgroup in every hierarchy, so whatever it starts is
// found and killed there.
func joinCgroup(name string, pid int) error {
	for _, h := range cgroupHierarchies() {
		procs := filepath.Join(h, name, "cgroup.procs")
		if _, err := os.Stat(procs); err != nil {
			continue
		}
		if err := os.WriteFile(procs, []byte(fmt.Sprint(pid)), 0o600); err != nil {
			return fmt.Errorf("move %d into cgroup %s: %w", pid, name, err)
		}
	}
	return nil
}

// killCgroups SIGKILLs every process in the cgroups and their children until none is
// left (a container process may fork while we kill).
func killCgroups(names ...string) error {
	for range 50 {
		pids := cgroupPids(names...)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // it may have exited meanwhile
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes left in cgroups %v: %v", names, cgroupPids(names...))
}

func cgroupPids(names ...string) []int {
	var pids []int
	for _, h := range cgroupHierarchies() {
		for _, n := range names {
			root := filepath.Join(h, n)
			_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
					return nil //nolint:nilerr // a cgroup that is gone has no processes
				}
				data, _ := os.ReadFile(path) //nolint:gosec // cgroupfs: only root makes entries there
				for f := range strings.FieldsSeq(string(data)) {
					var pid int
					if _, err := fmt.Sscan(f, &pid); err == nil && !slices.Contains(pids, pid) {
						pids = append(pids, pid)
					}
				}
				return nil
			})
		}
	}
	return pids
}

// removeCgroups removes the cgroups, children first (rmdir is how cgroups go).
func removeCgroups(names ...string) error {
	var errs []error
	for _, h := range cgroupHierarchies() {
		for _, n := range names {
			var dirs []string
			_ = filepath.WalkDir(filepath.Join(h, n), func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for _, d := range slices.Backward(dirs) {
				if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
					errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir, deepest first: the kubelet's bind
// mount of its root dir, pod volumes, overlay root filesystems, network namespaces.
func unmountUnder(dir string) error {
	if dir == "" {
		return nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("list mounts: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			var c byte
			if _, err := fmt.Sscanf(p[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// removeLinksInto removes the symbolic links in dir that point below target: the kubelet
// links every container log into /var/log/containers, a path it does not let us move.
func removeLinksInto(dir, target string) error {
	if target == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil //nolint:nilerr // no such folder, no links
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		dst, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(dst, target+"/") {
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
