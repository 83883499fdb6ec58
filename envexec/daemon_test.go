package envexec

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// Daemon mode runs the real binary as a subprocess: it signals, reaps and waits for
// processes, which must not happen inside the test binary (it would reap the test's own
// Vault servers).

// daemonRun is envexec running in daemon mode, with the application's output file.
type daemonRun struct {
	cmd *exec.Cmd
	// stderr is a file, not a pipe: an application outliving a failed test must not
	// keep Wait blocked on the pipe.
	stderrPath string
	out        string
	done       chan struct{}
	code       int
}

func (r *daemonRun) stderr() string {
	b, _ := os.ReadFile(r.stderrPath)
	return string(b)
}

// app is a shell application that appends a line per event to $OUT: "start <pid>
// <$SECRET>" when it starts, the names of signals it traps, and "term" before it exits 42.
const app = `trap 'echo HUP >> "$OUT"' HUP
trap 'echo USR1 >> "$OUT"' USR1
trap 'echo term >> "$OUT"; exit 42' TERM
echo "start $$ $SECRET" >> "$OUT"
(sleep 0.3 &)
while :; do sleep 0.1; done
`

// startDaemon runs envexec -- /bin/sh SCRIPT ARGS... in daemon mode.
func startDaemon(t *testing.T, env []string, script string, args ...string) *daemonRun {
	t.Helper()
	dir := t.TempDir()
	r := &daemonRun{stderrPath: filepath.Join(dir, "stderr"), out: filepath.Join(dir, "out"), done: make(chan struct{})}
	scriptPath := filepath.Join(dir, "app.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(r.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	r.cmd = exec.Command(envexecBinary(t), append([]string{"--", "/bin/sh", scriptPath}, args...)...) //nolint:noctx // stopped in Cleanup
	r.cmd.Env = append(slices.Clone(env), settings.EnvDaemon+"=true", "OUT="+r.out)
	r.cmd.Stderr = stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			r.code = -1
		}
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends envexec (SIGTERM, which it forwards), and kills what is left of it and of
// the applications it started if that does not work.
func (r *daemonRun) stop(t *testing.T) {
	select {
	case <-r.done:
	default:
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Logf("stopping envexec: %v", err)
		}
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			if err := r.cmd.Process.Kill(); err != nil {
				t.Logf("killing envexec: %v", err)
			}
			<-r.done
		}
	}
	for _, e := range r.events() {
		if f := strings.Fields(e); len(f) > 1 && f[0] == "start" {
			if pid, err := strconv.Atoi(f[1]); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
				t.Errorf("application %d outlived envexec", pid)
			}
		}
	}
	if t.Failed() {
		t.Logf("envexec stderr:\n%s", r.stderr())
	}
}

func (r *daemonRun) events() []string {
	b, _ := os.ReadFile(r.out)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitFor polls until cond holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *daemonRun) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(timeout):
		t.Fatalf("envexec still running after %v", timeout)
		return 0
	}
}

func countEvents(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// zombies lists the exited, unreaped children of pid.
func zombies(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after the last ")".
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[0] == "Z" && fields[1] == strconv.Itoa(pid) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestDaemonSignalsReapingAndExitCode(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	secret := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"s": secret}})
	env, jwt := f.env(t, "SECRET=vault:secret/"+u+"#s")
	r := startDaemon(t, env, app)
	waitFor(t, 10*time.Second, "the application to start", func() bool { return countEvents(r.events(), "start") == 1 })
	if ev := r.events()[0]; !strings.HasSuffix(ev, " "+secret) || strings.Contains(ev, "start "+strconv.Itoa(r.cmd.Process.Pid)+" ") {
		t.Errorf("start event %q: want the secret, and a child process (not envexec's PID)", ev)
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1} {
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "HUP and USR1 forwarded", func() bool {
		ev := r.events()
		return countEvents(ev, "HUP") == 1 && countEvents(ev, "USR1") == 1
	})
	// The orphaned "sleep 0.3" is adopted and reaped: no zombie is left behind.
	waitFor(t, 5*time.Second, "the orphan to be reaped", func() bool {
		return strings.Contains(r.stderr(), "reaped an orphaned process")
	})
	if z := zombies(r.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.exitCode(t, 10*time.Second); code != 42 {
		t.Errorf("exit code %d, want the application's 42", code)
	}
	if countEvents(r.events(), "term") != 1 {
		t.Errorf("events %q: want the TERM forwarded once", r.events())
	}
	assertNoLeak(t, r.stderr(), secret, jwt)
}

func TestDaemonChildKilled(t *testing.T) {
	t.Parallel()
	env := append(settingsEnv(t, closedAddr(t)), "PATH=/usr/bin:/bin")
	r := startDaemon(t, env, `echo "start $$" >> "$OUT"; kill -9 $$`)
	if code := r.exitCode(t, 10*time.Second); code != 128+9 {
		t.Errorf("exit code %d, want 137 for a child killed by SIGKILL; stderr %s", code, r.stderr())
	}
}

// leaseEnv is a configuration whose application gets a pki certificate with a short,
// non-renewable lease.
func leaseEnv(t *testing.T, f *fixture, extra ...string) []string {
	t.Helper()
	env, _ := f.env(t, append(extra,
		`SECRET=>>vault:pki/issue/web#serial_number#{"common_name":"daemon.shop.svc","ttl":"6s"}`)...)
	return env
}

func TestDaemonRestartOnExpiry(t *testing.T) {
	t.Parallel()
	f := vault(t)
	r := startDaemon(t, leaseEnv(t, f), app)
	waitFor(t, 20*time.Second, "a restart with a new certificate", func() bool { return countEvents(r.events(), "start") >= 2 })
	ev := r.events()
	first, second := strings.Fields(ev[0]), strings.Fields(ev[nthEvent(ev, "start", 1)])
	if first[2] == second[2] || first[1] == second[1] {
		t.Errorf("events %q: want a new process with a new serial", ev)
	}
	if countEvents(ev, "term") != 1 {
		t.Errorf("events %q: want the old application stopped with SIGTERM", ev)
	}
	for _, want := range []string{"lease cannot be renewed", "restarting application with fresh secrets"} {
		if !strings.Contains(r.stderr(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.exitCode(t, 10*time.Second); code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
}

// A restart resolves the arguments again: the new application gets the new
// certificate's serial in its argument too, from the same write as its variable.
func TestDaemonRestartResolvesArguments(t *testing.T) {
	t.Parallel()
	f := vault(t)
	withArg := strings.Replace(app, `echo "start $$ $SECRET"`, `echo "start $$ $SECRET $1"`, 1)
	r := startDaemon(t, leaseEnv(t, f), withArg,
		`>>vault:pki/issue/web#serial_number#{"common_name":"daemon.shop.svc","ttl":"6s"}`)
	waitFor(t, 20*time.Second, "a restart with a new certificate", func() bool { return countEvents(r.events(), "start") >= 2 })
	ev := r.events()
	first, second := strings.Fields(ev[0]), strings.Fields(ev[nthEvent(ev, "start", 1)])
	if len(first) != 4 || len(second) != 4 || first[2] != first[3] || second[2] != second[3] || first[3] == second[3] {
		t.Errorf("events %q: want each application's argument to be its variable's serial, new after the restart", ev)
	}
	if n := strings.Count(r.stderr(), `"msg":"writing secret"`); n != 2 {
		t.Errorf("%d writes, want one per start", n)
	}
}

// nthEvent returns the index of the n-th (0-based) event with prefix.
func nthEvent(events []string, prefix string, n int) int {
	for i, e := range events {
		if strings.HasPrefix(e, prefix) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

func TestDaemonSignalOnExpiry(t *testing.T) {
	t.Parallel()
	f := vault(t)
	r := startDaemon(t, leaseEnv(t, f, settings.EnvDaemonOnExpiry+"=signal", settings.EnvDaemonSignal+"=SIGHUP"), app)
	waitFor(t, 20*time.Second, "SIGHUP on expiry", func() bool { return countEvents(r.events(), "HUP") == 1 })
	time.Sleep(3 * time.Second)
	if ev := r.events(); countEvents(ev, "HUP") != 1 || countEvents(ev, "start") != 1 {
		t.Errorf("events %q: want one SIGHUP and no restart", ev)
	}
}

// With the signal action and files, the signal waits for the files to be rewritten; a
// rewrite that fails (the pki role is gone for a while) is tried again after the retry
// delay until it works, and the application then gets its signal. The expired lease was
// marked handled before the rewrite, and a failed one was never tried again.
func TestDaemonSignalOnExpiryRetriesTheFiles(t *testing.T) {
	t.Parallel()
	f := vault(t)
	role := "pki/roles/retry-" + strings.ToLower(unique(t)[len(t.Name())+1:])
	roleBody := map[string]any{"allowed_domains": "svc", "allow_subdomains": true, "max_ttl": "1h", "key_type": "ec", "generate_lease": true}
	f.srv.Do(t, http.MethodPost, role, roleBody)
	issue := `>>vault:` + strings.Replace(role, "/roles/", "/issue/", 1) + `#serial_number#{"common_name":"daemon.shop.svc","ttl":"6s"}`
	dir, files := filesEnv(t, settings.FileSpec{Path: "serial", Content: "${" + issue + "}"})
	env, _ := f.env(t, append(files, "SECRET=x", settings.EnvDaemonOnExpiry+"=signal", settings.EnvDaemonSignal+"=SIGHUP")...)
	r := startDaemon(t, env, app)
	waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
	first, err := os.ReadFile(dir + "/serial")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Do(t, http.MethodDelete, role, nil)
	waitFor(t, 20*time.Second, "a failed rewrite", func() bool { return strings.Contains(r.stderr(), "fetching fresh secrets failed") })
	if n := countEvents(r.events(), "HUP"); n != 0 {
		t.Fatalf("SIGHUP sent %d times before the files were rewritten", n)
	}
	f.srv.Do(t, http.MethodPost, role, roleBody)
	waitFor(t, 30*time.Second, "SIGHUP once the files are rewritten", func() bool { return countEvents(r.events(), "HUP") >= 1 })
	if again, err := os.ReadFile(dir + "/serial"); err != nil || string(again) == string(first) {
		t.Errorf("file after the signal: %v, unchanged %v; want a new serial", err, string(again) == string(first))
	}
}

func TestDaemonStopOnExpiry(t *testing.T) {
	t.Parallel()
	f := vault(t)
	r := startDaemon(t, leaseEnv(t, f, settings.EnvDaemonOnExpiry+"=stop", settings.EnvDaemonGrace+"=2s"), app)
	if code := r.exitCode(t, 20*time.Second); code != ExitLeaseExpired {
		t.Errorf("exit code %d, want %d", code, ExitLeaseExpired)
	}
	if ev := r.events(); countEvents(ev, "term") != 1 {
		t.Errorf("events %q: want the application stopped with SIGTERM", ev)
	}
}

// A token with a 3s TTL and a 7s max TTL is renewed, then replaced by a new login,
// without touching the application.
func TestDaemonTokenRenewal(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"s": "x"}})
	env, _ := f.env(t, settings.EnvRole+"=short", "SECRET=vault:secret/"+u+"#s")
	r := startDaemon(t, env, app)
	waitFor(t, 20*time.Second, "a renewal and a new login", func() bool {
		s := r.stderr()
		return strings.Contains(s, "renewed token") && strings.Contains(s, "logged in again")
	})
	if n := countEvents(r.events(), "start"); n != 1 {
		t.Errorf("the application started %d times, want once", n)
	}
}

// A Vault that goes away does not take the pod's signals with it: while daemon mode
// retries a sealed Vault (the token's renewal, then a new login), the application still
// gets SIGHUP at once, and SIGTERM ends it. Once Vault is back, envexec logs in again.
func TestDaemonSignalsWhileVaultIsSealed(t *testing.T) {
	t.Parallel()
	f := vault(t)
	v := startDiskVault(t, f)
	v.do(t, v.rootToken, http.MethodPost, "auth/"+testAuthPath+"/role/short", map[string]any{
		"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
		"policies": []string{"app"}, "token_ttl": "3s", "token_max_ttl": "1h",
	}, nil)
	u := unique(t)
	v.do(t, v.rootToken, http.MethodPost, "secret/data/"+u, map[string]any{"data": map[string]any{"s": "x"}}, nil)
	env, _ := f.env(t, settings.EnvRole+"=short", "SECRET=vault:secret/"+u+"#s")
	r := startDaemon(t, withEnv(env, settings.EnvVaultAddr+"="+v.addr), app)
	waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
	v.seal(t)
	waitFor(t, 20*time.Second, "a new login retrying on the sealed Vault", func() bool {
		_, after, failed := strings.Cut(r.stderr(), "token renewal failed")
		return failed && strings.Contains(after, "will retry")
	})
	signalAndWait := func(sig syscall.Signal, event string) {
		t.Helper()
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 3*time.Second, event+" forwarded while Vault is sealed", func() bool { return countEvents(r.events(), event) == 1 })
	}
	signalAndWait(syscall.SIGHUP, "HUP")
	v.unseal(t)
	waitFor(t, 30*time.Second, "a new login once Vault is back", func() bool { return strings.Contains(r.stderr(), "logged in again") })
	if n := countEvents(r.events(), "start"); n != 1 {
		t.Errorf("the application started %d times, want once", n)
	}
	v.seal(t)
	waitFor(t, 20*time.Second, "the renewal failing again", func() bool { return strings.Count(r.stderr(), "token renewal failed") >= 2 })
	signalAndWait(syscall.SIGTERM, "term")
	if code := r.exitCode(t, 5*time.Second); code != 42 {
		t.Errorf("exit code %d, want the application's 42", code)
	}
}

// maintain does nothing before retryAt, so the loop must not wake before it either,
// even with the token overdue: it spun at a full CPU while a login was failing.
func TestDaemonWaitsForTheRetry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	d := &daemon{token: newLease("", "token", 3*time.Second, true, now.Add(-time.Minute)), signaled: map[*lease]bool{}}
	if w := d.wait(); w != 0 {
		t.Errorf("an overdue token: wait %v, want 0", w)
	}
	d.retryAt = now.Add(retryRefetch)
	if w := d.wait(); w < retryRefetch-time.Second {
		t.Errorf("an overdue token and a retry in %v: wait %v, want until the retry", retryRefetch, w)
	}
	d.retryAt = now.Add(-time.Second)
	if w := d.wait(); w != 0 {
		t.Errorf("a retry already past: wait %v, want 0", w)
	}
}
