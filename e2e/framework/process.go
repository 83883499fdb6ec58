package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/internal/syncbuf"
)

// mount is a bind mount into a container's mount namespace.
type mount struct {
	src, dst string
	readOnly bool
}

// wrapperScript runs as PID 1 of fresh PID and mount namespaces: it makes mounts private
// (nothing leaks to the host), mounts a /proc that shows only the namespace, binds the
// volumes, enters the working dir and execs the container's command, which so inherits
// PID 1. It uses positional parameters only, because any shell variable could collide
// with a name in the container's environment. %s is the quoted path of mount(8).
const wrapperScript = `set -e
%[1]s --make-rprivate /
%[1]s -t proc proc /proc
while [ "$1" != -- ]; do
	case $1 in
	bind) %[1]s --bind "$2" "$3"; shift 3 ;;
	robind) %[1]s --bind "$2" "$3"; %[1]s -o remount,bind,ro "$3"; shift 3 ;;
	roroot) %[1]s -o remount,bind,ro /; shift ;;
	cd) cd "$2"; shift 2 ;;
	unset) unset "$2"; shift 2 ;;
	export) export "$2=$3"; shift 3 ;;
	*) echo "pod runner: bad wrapper argument $1" >&2; exit 125 ;;
	esac
done
shift
exec "$@"
`

// launch is everything needed to start one container.
type launch struct {
	argv   []string
	env    []string
	dir    string
	mounts []mount
	// privs is a setpriv prefix applying the securityContext (nil: unrestricted root).
	privs []string
	// readOnlyRoot makes / read-only in the container's mount namespace (volumes stay
	// as mounted, since each bind is its own mount).
	readOnlyRoot bool
}

// process is a running container (or exec session) and its captured output.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
}

// startContainer starts l.argv as PID 1 of new PID and mount namespaces, with exactly
// l.env (the shell's own PWD/OLDPWD are put back to what the spec says). Ending ctx
// kills it.
func startContainer(ctx context.Context, mountBin string, l launch) (*process, error) {
	args := []string{"-c", fmt.Sprintf(wrapperScript, shellQuote(mountBin)), "pod-runner"}
	for _, m := range l.mounts {
		op := "bind"
		if m.readOnly {
			op = "robind"
		}
		args = append(args, op, m.src, m.dst)
	}
	if l.readOnlyRoot {
		args = append(args, "roroot")
	}
	args = append(args, "cd", l.dir)
	for _, name := range []string{"PWD", "OLDPWD"} {
		if v, ok := envValue(l.env, name); ok {
			args = append(args, "export", name, v)
		} else {
			args = append(args, "unset", name)
		}
	}
	args = append(append(append(args, "--"), l.privs...), l.argv...)
	cmd := exec.CommandContext(ctx, "/bin/sh", args...)
	cmd.Env = l.env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		// If the test process dies, the namespace's PID 1 dies, and the kernel kills the rest.
		Pdeathsig: syscall.SIGKILL,
	}
	return start(cmd)
}

// startExec runs argv inside a container's PID and mount namespaces, in its working dir
// (nsenter -w takes the target's) and with its privileges, like kubectl exec.
func startExec(ctx context.Context, nsenterBin string, target int, l launch, argv []string) (*process, error) {
	args := append([]string{"--target", fmt.Sprint(target), "--pid", "--mount", "-w", "--"}, l.privs...)
	cmd := exec.CommandContext(ctx, nsenterBin, append(args, argv...)...) //nolint:gosec // the test's own command
	cmd.Env = l.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return start(cmd)
}

func start(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		_ = cmd.Wait() // the exit status is read from ProcessState
		close(p.done)
	}()
	return p, nil
}

// wrapperMark is the wrapper's $0: while PID 1's command line holds it, the wrapper is
// still setting up mounts and has not exec'd the container's command.
const wrapperMark = "\x00pod-runner\x00"

// awaitCommand waits until the container's PID 1 runs the container's own command, as a
// runtime's container does once it is reported running; exec before that would see the
// wrapper instead.
func (p *process) awaitCommand(ctx context.Context) error {
	cmdline := fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid)
	for {
		b, err := os.ReadFile(cmdline)
		if err != nil {
			return fmt.Errorf("read %s: %w", cmdline, err)
		}
		if !bytes.Contains(b, []byte(wrapperMark)) {
			return nil
		}
		select {
		case <-p.done:
			return errors.New("it exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("wait for the container's command: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// wait returns the exit code once the process ended (-1 if a signal killed it).
func (p *process) wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for process %d: %w", p.cmd.Process.Pid, ctx.Err())
	}
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, the one signal a PID namespace's init cannot ignore from outside,
// and waits for the process to be reaped.
func (p *process) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill() // it may have exited in between; done tells
	}
	<-p.done
}

func envValue(env []string, name string) (string, bool) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// shellQuote makes s one literal word for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
