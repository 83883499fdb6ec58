package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// Pod is one pod being played by a Runner: init containers run to completion in order,
// then every app container runs at once. Stop it when done.
type Pod struct {
	// Pod is the spec as read back from the apiserver.
	Pod *corev1.Pod

	runner *Runner
	dir    string
	// life bounds every container process; Stop ends it.
	life     context.Context
	stopLife context.CancelFunc
	volumes  map[string]string
	launches map[string]launch

	mu    sync.Mutex
	procs map[string]*process
}

// ContainerError reports a container that exited non-zero, with the end of its stderr,
// which is where envexec explains why.
type ContainerError struct {
	Container string
	ExitCode  int
	Stderr    []byte
}

// Error implements error.
func (e *ContainerError) Error() string {
	return fmt.Sprintf("container %s exited with code %d: %s", e.Container, e.ExitCode, tail(e.Stderr, 1024))
}

func (p *Pod) prepare(ctx context.Context) error {
	for _, c := range p.Pod.Spec.InitContainers {
		if c.RestartPolicy != nil {
			return fmt.Errorf("init container %s: sidecar (restartPolicy): %w", c.Name, errUnsupported)
		}
	}
	var err error
	if p.volumes, err = makeVolumes(ctx, p.runner.cluster, p.Pod, p.dir); err != nil {
		return err
	}
	tokenDir, err := writeTokenDir(ctx, p.runner.cluster, p.Pod, p.dir)
	if err != nil {
		return err
	}
	sources, err := readEnvSources(ctx, p.runner.cluster, p.Pod)
	if err != nil {
		return err
	}
	p.launches = map[string]launch{}
	for _, c := range append(append([]corev1.Container{}, p.Pod.Spec.InitContainers...), p.Pod.Spec.Containers...) {
		l, err := containerLaunch(p.runner.setpriv, p.Pod, &c, sources, p.volumes, tokenDir)
		if err != nil {
			return err
		}
		p.launches[c.Name] = l
	}
	return nil
}

func containerLaunch(setpriv string, pod *corev1.Pod, c *corev1.Container, sources envSources, volumes map[string]string, tokenDir string) (launch, error) {
	env, values, err := containerEnv(pod, c, sources)
	if err != nil {
		return launch{}, err
	}
	argv, err := containerArgv(c, values)
	if err != nil {
		return launch{}, err
	}
	mounts, err := containerMounts(c, volumes, tokenDir)
	if err != nil {
		return launch{}, err
	}
	privs, readOnlyRoot, err := privileges(setpriv, pod, c)
	if err != nil {
		return launch{}, err
	}
	dir := c.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return launch{argv: argv, env: env, dir: dir, mounts: mounts, privs: privs, readOnlyRoot: readOnlyRoot}, nil
}

// Run runs the init containers and then starts the app containers.
func (p *Pod) Run(ctx context.Context) error {
	if err := p.RunInitContainers(ctx); err != nil {
		return err
	}
	return p.StartContainers()
}

// RunInitContainers runs each init container to completion, in order; the first that
// fails stops the pod's start and is returned as a *ContainerError.
func (p *Pod) RunInitContainers(ctx context.Context) error {
	for _, c := range p.Pod.Spec.InitContainers {
		proc, err := p.start(c.Name)
		if err != nil {
			return err
		}
		code, err := proc.wait(ctx)
		if err != nil {
			return fmt.Errorf("init container %s: %w", c.Name, err)
		}
		if code != 0 {
			return &ContainerError{Container: c.Name, ExitCode: code, Stderr: proc.stderr.Bytes()}
		}
	}
	return nil
}

// StartContainers starts every app container without waiting for any.
func (p *Pod) StartContainers() error {
	for _, c := range p.Pod.Spec.Containers {
		if _, err := p.start(c.Name); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pod) start(name string) (*process, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.procs[name]; ok {
		return nil, fmt.Errorf("container %s: already started", name)
	}
	proc, err := startContainer(p.life, p.runner.mount, p.launches[name])
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	p.procs[name] = proc
	return proc, nil
}

func (p *Pod) proc(name string) (*process, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc, ok := p.procs[name]
	if !ok {
		return nil, fmt.Errorf("container %s: not started", name)
	}
	return proc, nil
}

// Wait waits for a container to exit and returns its exit code (-1 if killed by a
// signal), or ctx's error.
func (p *Pod) Wait(ctx context.Context, container string) (int, error) {
	proc, err := p.proc(container)
	if err != nil {
		return 0, err
	}
	return proc.wait(ctx)
}

// Exited reports whether a started container has exited.
func (p *Pod) Exited(container string) bool {
	proc, err := p.proc(container)
	return err == nil && proc.exited()
}

// Logs returns what a container wrote so far to stdout and stderr (nil if not started).
func (p *Pod) Logs(container string) (stdout, stderr []byte) {
	proc, err := p.proc(container)
	if err != nil {
		return nil, nil
	}
	return proc.stdout.Bytes(), proc.stderr.Bytes()
}

// HostPID is the host's PID of a container's PID 1.
func (p *Pod) HostPID(container string) (int, error) {
	proc, err := p.proc(container)
	if err != nil {
		return 0, err
	}
	return proc.cmd.Process.Pid, nil
}

// VolumeDir is the host directory behind an emptyDir volume, so a test can look at what
// the application wrote.
func (p *Pod) VolumeDir(volume string) string {
	return p.volumes[volume]
}

// Exec runs argv inside a running container's PID and mount namespaces with the
// container's spec env, like kubectl exec, and returns its output. A non-zero exit is
// an *exec.ExitError.
func (p *Pod) Exec(ctx context.Context, container string, argv ...string) (stdout, stderr []byte, err error) {
	proc, err := p.proc(container)
	if err != nil {
		return nil, nil, err
	}
	if proc.exited() {
		return nil, nil, fmt.Errorf("exec in container %s: it has exited", container)
	}
	if err := proc.awaitCommand(ctx); err != nil {
		return nil, nil, fmt.Errorf("exec in container %s: %w", container, err)
	}
	x, err := startExec(ctx, p.runner.nsenter, proc.cmd.Process.Pid, p.launches[container], argv)
	if err != nil {
		return nil, nil, fmt.Errorf("exec in container %s: %w", container, err)
	}
	<-x.done // ending ctx kills it
	if err := ctx.Err(); err != nil {
		return x.stdout.Bytes(), x.stderr.Bytes(), fmt.Errorf("exec in container %s: %w", container, err)
	}
	if !x.cmd.ProcessState.Success() {
		return x.stdout.Bytes(), x.stderr.Bytes(), fmt.Errorf("exec in container %s: %w", container, &exec.ExitError{ProcessState: x.cmd.ProcessState})
	}
	return x.stdout.Bytes(), x.stderr.Bytes(), nil
}

// Stop kills every container still running (SIGKILL to each namespace's PID 1 takes the
// whole namespace down) and removes the pod's volumes and token.
func (p *Pod) Stop() error {
	p.mu.Lock()
	procs := make([]*process, 0, len(p.procs))
	for _, proc := range p.procs {
		procs = append(procs, proc)
	}
	p.mu.Unlock()
	for _, proc := range procs {
		proc.kill()
	}
	p.stopLife()
	if err := unmountMemoryVolumes(p.Pod, p.dir); err != nil {
		return fmt.Errorf("pod %s/%s: %w", p.Pod.Namespace, p.Pod.Name, err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("pod %s/%s: remove volumes: %w", p.Pod.Namespace, p.Pod.Name, err)
	}
	return nil
}

// Signal sends sig to a running container's PID 1, as the kubelet does to stop it
// (SIGTERM first). A namespace's init only gets the signals it handles.
func (p *Pod) Signal(container string, sig syscall.Signal) error {
	proc, err := p.proc(container)
	if err != nil {
		return err
	}
	if err := proc.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal container %s: %w", container, err)
	}
	return nil
}
