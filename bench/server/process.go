// Package server builds and runs the servers the load harness measures as child
// processes on loopback: it writes their TLS certificate, picks free ports, waits for
// readiness and reads their peak memory from /proc.
package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one running server.
type Process struct {
	// Name says which server this is in reports.
	Name string
	// Args is the command line, binary first, for the report.
	Args []string
	// LogPath holds the server's stdout and stderr.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with args and env (and nothing else of the harness's environment), its
// output going to logPath. Stop it with Stop.
func Start(name, bin string, args, env []string, logPath string) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...) //nolint:noctx // the server outlives any one context: Stop ends it
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Args: append([]string{bin}, args...), LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the server's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitReady polls url (a readiness probe) until it answers 200, the process exits or
// timeout passes.
func (p *Process) WaitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%w); log:\n%s", p.Name, p.err, p.LogTail(2000))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s after %s; log:\n%s", p.Name, url, timeout, p.LogTail(2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PeakRSS is the process's resident set high-water mark (VmHWM) in bytes: the most memory
// it has held at once since it started.
func (p *Process) PeakRSS() (int64, error) {
	return statusBytes(p.PID(), "VmHWM")
}

// CPUTime is the CPU the server has used since it started, in user and system mode,
// all its threads together (utime and stime of /proc/PID/stat, in the kernel's 10 ms
// ticks): over a load level, divided by the requests served, the CPU one request costs,
// which unlike requests per second does not depend on how the machine's cores were shared.
func (p *Process) CPUTime() (time.Duration, error) {
	return cpuTime(p.PID())
}

// userHZ is the unit of utime and stime: USER_HZ, 100 on every Linux the harness runs on.
const userHZ = 100

func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	// The command name, in parentheses, may hold spaces: the fields start after its end.
	i := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("parse process stat %q", data)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse process stat %q: %w", data, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statusBytes reads a "Field:  N kB" line of /proc/PID/status.
func statusBytes(pid int, field string) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s %q: %w", field, line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// LogTail returns the last n bytes of the server's log, for error messages.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(data[max(0, len(data)-n):])
}

// Stop asks the server to shut down (SIGTERM) and kills it if it has not within grace.
// An exit caused by the signal is not an error.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("%s had already exited: %w", p.Name, p.err)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
	var exit *exec.ExitError
	if p.err != nil && (!errors.As(p.err, &exit) || exit.ExitCode() > 0) {
		return fmt.Errorf("%s: %w", p.Name, p.err)
	}
	return nil
}
