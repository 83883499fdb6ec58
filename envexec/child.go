package envexec

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// child is the application started by daemon mode, and the reaping of every process
// envexec adopts.
type child struct {
	pid  int
	log  *slog.Logger
	sigs <-chan os.Signal
	// started, if set, is told each application's pid (the interrupter watches it).
	started func(pid int)
	// external is set when a signal from outside (the kubelet's SIGTERM) was forwarded
	// while envexec itself was stopping the application: it must not be started again.
	external bool
}

// start runs path with argv and env, sharing envexec's stdin, stdout and stderr.
func (c *child) start(path string, argv, env []string) error {
	p, err := os.StartProcess(path, argv, &os.ProcAttr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return err
	}
	c.pid = p.Pid
	if c.started != nil {
		c.started(c.pid)
	}
	// Reaping is done with wait4(-1) below; the os.Process handle is not needed.
	if err := p.Release(); err != nil {
		c.log.Debug("releasing the process handle", "error", err.Error())
	}
	c.log.Info("application started", "pid", c.pid)
	return nil
}

// forward passes a signal envexec received to the application. SIGCHLD is envexec's own,
// SIGURG is the Go runtime's preemption signal, SIGPIPE concerns envexec's own writes.
func (c *child) forward(sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok || s == syscall.SIGCHLD || s == syscall.SIGURG || s == syscall.SIGPIPE {
		return
	}
	c.log.Debug("forwarding signal", "signal", s.String(), "pid", c.pid)
	if err := syscall.Kill(c.pid, s); err != nil && !errors.Is(err, syscall.ESRCH) {
		c.log.Warn("forwarding a signal failed", "signal", s.String(), "error", err.Error())
	}
}

// reap collects every exited process without blocking. It reports the application's
// exit code (128+N for signal N, as shells do) once it has exited.
func (c *child) reap() (code int, exited bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return code, exited
		}
		if pid != c.pid {
			c.log.Debug("reaped an orphaned process", "pid", pid)
			continue
		}
		code, exited = ws.ExitStatus(), true
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		c.log.Info("application exited", "pid", pid, "exitCode", code)
	}
}

// stop sends sig to the application, then SIGKILL after grace, and waits for it to exit.
// Signals arriving meanwhile are forwarded, and mark the stop as external.
func (c *child) stop(sig syscall.Signal, grace time.Duration) int {
	c.log.Info("stopping application", "signal", sig.String(), "pid", c.pid)
	c.forward(sig)
	kill := time.NewTimer(grace)
	defer kill.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case s := <-c.sigs:
			if s != syscall.SIGCHLD && s != syscall.SIGURG {
				c.external = true
				c.forward(s)
			}
		case <-poll.C:
		case <-kill.C:
			c.log.Warn("application did not stop in time, killing it", "pid", c.pid, "grace", grace.String())
			c.forward(syscall.SIGKILL)
		}
		if code, exited := c.reap(); exited {
			return code
		}
	}
}
