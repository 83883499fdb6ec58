package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	corev1 "k8s.io/api/core/v1"
)

// Runner plays the kubelet on this machine: it runs the containers of a pod the
// apiserver stored, each as PID 1 of its own PID and mount namespaces, with the host's
// root filesystem standing in for every image. It needs root, and mount(8), nsenter(1)
// and setpriv(1) from util-linux. Mount points missing on the host (such as /out or
// /vault-injector) are created as empty directories and left in place; what is mounted
// on them exists only inside the container's mount namespace.
type Runner struct {
	cluster *Cluster
	mount   string
	nsenter string
	setpriv string
}

// NewRunner checks the privileges and tools the runner relies on.
func NewRunner(c *Cluster) (*Runner, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("pod runner: needs root to create PID and mount namespaces")
	}
	r := &Runner{cluster: c}
	for name, dst := range map[string]*string{"mount": &r.mount, "nsenter": &r.nsenter, "setpriv": &r.setpriv} {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("pod runner: %s (util-linux) not found: %w", name, err)
		}
		*dst = p
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		return nil, fmt.Errorf("pod runner: /bin/sh: %w", err)
	}
	return r, nil
}

// Prepare resolves everything a pod needs before anything runs (volumes, token, env,
// command lines), so a pod the runner cannot play fails before it half-starts.
func (r *Runner) Prepare(ctx context.Context, pod *corev1.Pod) (*Pod, error) {
	dir, err := os.MkdirTemp("", "pod-"+pod.Namespace+"-"+pod.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	p := &Pod{Pod: pod.DeepCopy(), runner: r, dir: dir, procs: map[string]*process{}}
	// Containers outlive the call that starts them, but not the Pod.
	p.life, p.stopLife = context.WithCancel(context.WithoutCancel(ctx))
	if err := p.prepare(ctx); err != nil {
		p.stopLife()
		return nil, errors.Join(fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err), unmountMemoryVolumes(pod, dir), os.RemoveAll(dir))
	}
	return p, nil
}
