package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// replica is one webhook process; it keeps its ports across restarts, as a pod keeps its
// Service endpoints.
type replica struct {
	name, bin, logPath string
	args               []string
	// servingAddr is the TLS port; probeAddr serves /readyz; metricsAddr /metrics.
	servingAddr, probeAddr, metricsAddr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func newReplica(name, bin, dir, certDir string, addrs []string) *replica {
	host, port, _ := strings.Cut(addrs[0], ":")
	return &replica{
		name: name, bin: bin, logPath: dir + "/" + name + ".log",
		servingAddr: addrs[0], probeAddr: addrs[1], metricsAddr: addrs[2],
		args: []string{
			"--webhook-host=" + host, "--webhook-port=" + port, "--cert-dir=" + certDir,
			"--metrics-bind-address=" + addrs[2], "--health-probe-bind-address=" + addrs[1],
			"--injector-image=vault-injector:soak", "--vault-addr=http://vault.invalid:8200",
		},
	}
}

// start runs the process and waits until /readyz answers 200.
func (r *replica) start(ctx context.Context) error {
	log, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s log: %w", r.name, err)
	}
	cmd := exec.Command(r.bin, r.args...)    //nolint:gosec,noctx // our own build; runs until killed
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no KUBECONFIG: the soak's pods need no lookups
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("start %s: %w", r.name, err), log.Close())
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // how it ended is in its log; kill expects a signal
		_ = log.Close()
		close(exited)
	}()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.starts++
	r.mu.Unlock()
	return r.waitReady(ctx, exited)
}

func (r *replica) waitReady(ctx context.Context, exited chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ready(ctx, client, "http://"+r.probeAddr+"/readyz") {
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start-up; see %s", r.name, r.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; see %s", r.name, ctx.Err(), r.logPath)
		case <-tick.C:
		}
	}
	return nil
}

// kill sends sig and waits for the process to end (SIGKILL after 15s).
func (r *replica) kill(sig syscall.Signal) error {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", r.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill() // it ignored the signal; reported below
		<-exited
		return fmt.Errorf("%s did not stop within 15s of %s", r.name, sig)
	}
}

// rss is the process's resident memory now (VmRSS), in bytes.
func (r *replica) rss() (int64, error) {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("not running")
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("%s status: %w", r.name, err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s VmRSS %q: %w", r.name, line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS", r.name)
}
