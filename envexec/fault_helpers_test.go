package envexec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// Helpers for the fault tests (fault_test.go): envexec runs its real code path in a
// goroutine, its log is watched live so a test can wait for a retry instead of sleeping,
// and it can be held at a log line (between login and reads) while the test breaks Vault.

// Messages of envexec's log the fault tests wait for.
const (
	msgRetry    = "vault request failed, will retry"
	msgLoggedIn = "logged in"
)

// logWatch is envexec's stderr, seen live: it keeps the text, counts lines per message,
// and can hold envexec at the first line with a given message until released.
type logWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	counts  map[string]int
	changed chan struct{} // closed and replaced at every line

	holdMsg     string
	held        chan struct{} // closed when envexec reached holdMsg
	release     chan struct{}
	releaseOnce sync.Once
}

func newLogWatch(holdMsg string) *logWatch {
	return &logWatch{
		counts: map[string]int{}, changed: make(chan struct{}),
		holdMsg: holdMsg, held: make(chan struct{}), release: make(chan struct{}),
	}
}

// Write takes one JSON line per call, as slog's handler writes them.
func (w *logWatch) Write(p []byte) (int, error) {
	var line struct {
		Msg string `json:"msg"`
	}
	_ = json.Unmarshal(p, &line) // usage text is not JSON and counts as no message
	w.mu.Lock()
	w.buf.Write(p)
	w.counts[line.Msg]++
	close(w.changed)
	w.changed = make(chan struct{})
	hold := w.holdMsg != "" && line.Msg == w.holdMsg
	if hold {
		w.holdMsg = ""
	}
	w.mu.Unlock()
	if hold {
		close(w.held)
		<-w.release
	}
	return len(p), nil
}

// Release lets a held envexec go on; it is safe to call more than once.
func (w *logWatch) Release() { w.releaseOnce.Do(func() { close(w.release) }) }

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// awaitRetries waits until envexec logged at least n retries.
func (w *logWatch) awaitRetries(t *testing.T, n int) {
	t.Helper()
	w.await(t, fmt.Sprintf("%d retries", n), func() bool { return w.counts[msgRetry] >= n })
}

// awaitText waits until envexec's log holds text.
func (w *logWatch) awaitText(t *testing.T, text string) {
	t.Helper()
	w.await(t, strconv.Quote(text), func() bool { return strings.Contains(w.buf.String(), text) })
}

// await waits until cond, called under the lock, holds.
func (w *logWatch) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		w.mu.Lock()
		ok, changed := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("envexec's log never showed %s; log:\n%s", what, w.String())
		}
	}
}

// awaitHeld waits until envexec is held at its hold message.
func (w *logWatch) awaitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-w.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("envexec never reached the hold point; log:\n%s", w.String())
	}
}

// run is one envexec start-up in progress.
type run struct {
	log   *logWatch
	began time.Time
	done  chan outcome
	took  time.Duration
}

// startRun runs `envexec -- sh -c true` with env in the background, recording the exec
// instead of performing it; hold, if not empty, is a log message to hold envexec at.
func startRun(t *testing.T, env []string, hold string) *run {
	t.Helper()
	r := &run{log: newLogWatch(hold), began: time.Now(), done: make(chan outcome, 1)}
	t.Cleanup(r.log.Release) // a failing test must not leave envexec blocked
	go func() {
		var o outcome
		var stdout bytes.Buffer
		rn := &Runner{Environ: env, Stdout: &stdout, Stderr: r.log, Exec: func(path string, argv, env []string) error {
			o.execed, o.path, o.argv, o.env = true, path, argv, env
			return nil
		}}
		o.code = rn.Run(t.Context(), []string{"--", "sh", "-c", "true"})
		o.stdout, o.stderr = stdout.String(), r.log.String()
		r.done <- o
	}()
	return r
}

// wait returns the outcome and how long the start-up took; it checks the invariant of
// every fault: the application is exec'd only on success, and never with a reference.
func (r *run) wait(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-r.done:
		r.took = time.Since(r.began)
		assertNeverUnresolved(t, o)
		return o
	case <-time.After(2 * time.Minute):
		t.Fatalf("envexec did not finish; log:\n%s", r.log.String())
		return outcome{}
	}
}

// runFault is startRun then wait, for faults set up before envexec starts.
func runFault(t *testing.T, env []string) (outcome, time.Duration) {
	t.Helper()
	r := startRun(t, env, "")
	o := r.wait(t)
	return o, r.took
}

// assertNeverUnresolved fails if the application was exec'd after a failure, or with a
// variable that still holds a vault reference.
func assertNeverUnresolved(t *testing.T, o outcome) {
	t.Helper()
	if o.code != ExitOK && o.execed {
		t.Errorf("exit %d, yet the application was exec'd", o.code)
	}
	for _, kv := range o.env {
		name, value, _ := strings.Cut(kv, "=")
		if vaultref.HasRefs(value) {
			t.Errorf("the application was exec'd with an unresolved reference in %s", name)
		}
	}
}

// withEnv returns env with each NAME=VALUE of set replacing any earlier NAME.
func withEnv(env []string, set ...string) []string {
	out := make([]string, 0, len(env)+len(set))
	names := map[string]bool{}
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		names[name] = true
	}
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); !names[name] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// faultSecret writes a KV v2 secret with a canary password to the shared Vault and
// returns a working environment that reads it through vaultAddr (a proxy in front of
// Vault), the canary, and the login JWT (to check it never leaks).
func faultSecret(t *testing.T, f *fixture, vaultAddr string, set ...string) (env []string, password, jwt string) {
	t.Helper()
	return faultSecretValue(t, f, vaultAddr, canary(t), set...)
}

// faultSecretValue is faultSecret with a given password.
func faultSecretValue(t *testing.T, f *fixture, vaultAddr, password string, set ...string) (env []string, _, jwt string) {
	t.Helper()
	u := unique(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"password": password}})
	env, jwt = f.env(t, "DB_PASSWORD=vault:secret/"+u+"/db#password")
	return withEnv(env, append([]string{settings.EnvVaultAddr + "=" + vaultAddr}, set...)...), password, jwt
}

// wantSecret asserts a successful start with the secret in the application's env.
func wantSecret(t *testing.T, o outcome, password, jwt string) {
	t.Helper()
	assertNoLeak(t, o.stderr, password, jwt)
	if o.code != ExitOK || !o.execed {
		t.Fatalf("exit %d, execed %v; log:\n%s", o.code, o.execed, o.stderr)
	}
	if got, _ := envValue(o.env, "DB_PASSWORD"); got != password {
		t.Errorf("DB_PASSWORD = %q, want the secret", got)
	}
}

// wantFailure asserts exit code, that the final error line mentions each of want, and
// that nothing secret leaked.
func wantFailure(t *testing.T, o outcome, code int, want []string, secrets ...string) {
	t.Helper()
	assertNoLeak(t, o.stderr, secrets...)
	if o.code != code {
		t.Fatalf("exit %d, want %d; log:\n%s", o.code, code, o.stderr)
	}
	last := lastLogLine(t, o.stderr)
	msg, _ := last["error"].(string)
	t.Logf("exit %d: %s", o.code, msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// withinDeadline asserts that a start-up that gave up used its deadline (failDeadline)
// but not much more: a correctness bound (it neither quits early nor overstays), not a
// benchmark.
func withinDeadline(t *testing.T, took time.Duration) {
	t.Helper()
	deadline := failDeadline
	const margin = 2 * time.Second
	if took < deadline-100*time.Millisecond || took > deadline+margin {
		t.Errorf("gave up after %s, want between the %s deadline and %s more", took.Round(time.Millisecond), deadline, margin)
	}
}
