package envexec

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/buildinfo"
)

// outcome is what one envexec run did, with the exec observed instead of performed.
type outcome struct {
	code           int
	stdout, stderr string
	execed         bool
	path           string
	argv, env      []string
}

func runEnvexec(ctx context.Context, t *testing.T, args, environ []string) outcome {
	t.Helper()
	var o outcome
	var stdout, stderr bytes.Buffer
	r := &Runner{Environ: environ, Stdout: &stdout, Stderr: &stderr, Exec: func(path string, argv, env []string) error {
		o.execed, o.path, o.argv, o.env = true, path, argv, env
		return nil
	}}
	o.code = r.Run(ctx, args)
	o.stdout, o.stderr = stdout.String(), stderr.String()
	return o
}

// logLines parses stderr's JSON lines (usage text, which is not JSON, is skipped).
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func lastLogLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	lines := logLines(t, stderr)
	if len(lines) == 0 {
		t.Fatalf("no JSON log line in stderr %q", stderr)
	}
	return lines[len(lines)-1]
}

// assertNoLeak fails if any secret appears in text.
func assertNoLeak(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("output leaks a secret %q:\n%s", s, text)
		}
	}
}

func envValue(env []string, name string) (string, bool) {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// closedAddr is a loopback URL where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args       []string
		wantCode   int
		wantStdout string
		wantUsage  bool
	}{
		"no args":         {args: nil, wantCode: ExitUsage, wantUsage: true},
		"-h":              {args: []string{"-h"}, wantCode: ExitOK, wantUsage: true},
		"--help":          {args: []string{"--help"}, wantCode: ExitOK, wantUsage: true},
		"help":            {args: []string{"help"}, wantCode: ExitOK, wantUsage: true},
		"version":         {args: []string{"version"}, wantCode: ExitOK, wantStdout: buildinfo.Read().Text("envexec")},
		"version --json":  {args: []string{"version", "--json"}, wantCode: ExitOK, wantStdout: versionJSON(t)},
		"version extra":   {args: []string{"version", "x"}, wantCode: ExitUsage, wantUsage: true},
		"version two":     {args: []string{"version", "--json", "--json"}, wantCode: ExitUsage, wantUsage: true},
		"copy no dir":     {args: []string{"copy"}, wantCode: ExitUsage, wantUsage: true},
		"copy two dirs":   {args: []string{"copy", "a", "b"}, wantCode: ExitUsage, wantUsage: true},
		"dashes only":     {args: []string{"--"}, wantCode: ExitUsage, wantUsage: true},
		"unknown command": {args: []string{"/bin/app"}, wantCode: ExitUsage, wantUsage: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := runEnvexec(t.Context(), t, tt.args, nil)
			if out.code != tt.wantCode {
				t.Errorf("exit %d, want %d", out.code, tt.wantCode)
			}
			if out.stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", out.stdout, tt.wantStdout)
			}
			if got := strings.Contains(out.stderr, "usage:\n  envexec -- COMMAND"); got != tt.wantUsage {
				t.Errorf("usage on stderr = %v, want %v:\n%s", got, tt.wantUsage, out.stderr)
			}
			if tt.wantCode != ExitOK && lastLogLine(t, out.stderr)["exitCode"] != float64(tt.wantCode) {
				t.Errorf("log line does not carry exitCode %d: %s", tt.wantCode, out.stderr)
			}
			if out.execed {
				t.Error("exec was called")
			}
		})
	}
}

// versionJSON is what `envexec version --json` prints: the build info as one JSON line.
func versionJSON(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(buildinfo.Read())
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestUsageListsSettingsAndExitCodes(t *testing.T) {
	t.Parallel()
	u := usage()
	for _, s := range settings.Docs() {
		if !strings.Contains(u, s.Name) {
			t.Errorf("usage lacks %s", s.Name)
		}
	}
	for _, e := range exitCodeTable() {
		if !strings.Contains(u, e.meaning) {
			t.Errorf("usage lacks exit code %d", e.code)
		}
	}
}

func TestDocsCoverSettingsAndExitCodes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "envexec.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings.Docs() {
		if !bytes.Contains(doc, []byte("`"+s.Name+"`")) {
			t.Errorf("docs/envexec.md lacks `%s`", s.Name)
		}
	}
	for _, e := range exitCodeTable() {
		if !bytes.Contains(doc, []byte("| "+strconv.Itoa(e.code)+" |")) {
			t.Errorf("docs/envexec.md lacks a row for exit code %d", e.code)
		}
	}
}

// settingsEnv is a valid configuration pointing at addr, with a readable token file.
func settingsEnv(t *testing.T, addr string) []string {
	t.Helper()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("not-a-real-jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		settings.EnvVaultAddr + "=" + addr, settings.EnvRole + "=app", settings.EnvTokenFile + "=" + token,
		settings.EnvPod + "=web-7d9f", settings.EnvNamespace + "=shop", settings.EnvContainer + "=app",
	}
}

func TestNoReferencesExecsWithoutVault(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	write(t, filepath.Join(bin, "app"), 0o755)
	env := append(settingsEnv(t, closedAddr(t)), "PATH="+bin, "GREETING=hello", "VAULT_ADDR=http://app-vault:8200")
	// Arguments are scanned too; these only look like references.
	args := []string{"app", "--flag=vault:x#y", "${HOME} $(VAR) ${ vault:x#y}", "Vault:x#y"}
	out := runEnvexec(t.Context(), t, append([]string{"--"}, args...), env)
	if out.code != ExitOK || !out.execed {
		t.Fatalf("exit %d, execed %v, stderr %s", out.code, out.execed, out.stderr)
	}
	if out.path != bin+"/app" {
		t.Errorf("path %q, want it resolved through the new PATH", out.path)
	}
	if !slices.Equal(out.argv, args) {
		t.Errorf("argv %q", out.argv)
	}
	want := []string{"PATH=" + bin, "GREETING=hello", "VAULT_ADDR=http://app-vault:8200"}
	if !slices.Equal(out.env, want) {
		t.Errorf("env %q, want %q", out.env, want)
	}
}

func TestFailuresBeforeVault(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env      func(t *testing.T) []string
		args     []string
		wantCode int
		wantText []string
	}{
		"bad setting": {
			env:      func(t *testing.T) []string { return append(settingsEnv(t, "ftp://x"), "DB=vault:s/x#k") },
			wantCode: ExitSettings, wantText: []string{settings.EnvVaultAddr},
		},
		"malformed reference": {
			env: func(t *testing.T) []string {
				return append(settingsEnv(t, closedAddr(t)), "DB_PASSWORD=vault:secret/app/db")
			},
			wantCode: ExitSettings, wantText: []string{"DB_PASSWORD", `missing \"#KEY\"`},
		},
		"malformed references in arguments": {
			env:      func(t *testing.T) []string { return settingsEnv(t, closedAddr(t)) },
			args:     []string{"--", "/bin/true", "ok", "--password=${vault:secret/app}", "vault:secret/app/db#k#latest"},
			wantCode: ExitSettings,
			wantText: []string{
				`argument argv[2]: bad vault reference: invalid vault reference at byte 29`, `"arguments":["argv[2]"]`,
				`argument argv[3]: bad vault reference`,
			},
		},
		"login in an argument": {
			env:      func(t *testing.T) []string { return settingsEnv(t, closedAddr(t)) },
			args:     []string{"--", "/bin/app", "--token=${vault:login}"},
			wantCode: ExitSettings, wantText: []string{"argument argv[1]: ", settings.EnvAllowLogin},
		},
		"token file missing": {
			env: func(t *testing.T) []string {
				return append(settingsEnv(t, closedAddr(t)), settings.EnvTokenFile+"=/nonexistent/token", "DB=vault:s/x#k")
			},
			wantCode: ExitLogin, wantText: []string{"token file", "/nonexistent/token"},
		},
		"command not found": {
			env:      func(t *testing.T) []string { return append(settingsEnv(t, closedAddr(t)), "PATH="+t.TempDir()) },
			args:     []string{"--", "no-such-app"},
			wantCode: ExitExec, wantText: []string{"no-such-app"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if args == nil {
				args = []string{"--", "/bin/true"}
			}
			out := runEnvexec(t.Context(), t, args, tt.env(t))
			if out.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", out.code, tt.wantCode, out.stderr)
			}
			if out.execed {
				t.Error("exec was called")
			}
			assertNoLeak(t, out.stderr, "not-a-real-jwt")
			for _, w := range tt.wantText {
				if !strings.Contains(out.stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, out.stderr)
				}
			}
		})
	}
}

func TestVaultDownFailsWithinDeadline(t *testing.T) {
	t.Parallel()
	env := append(settingsEnv(t, closedAddr(t)), settings.EnvTimeout+"=1500ms", "DB_PASSWORD=vault:secret/app/db#password")
	began := time.Now()
	out := runEnvexec(t.Context(), t, []string{"--", "/bin/true"}, env)
	elapsed := time.Since(began)
	if out.code != ExitUnreachable {
		t.Fatalf("exit %d, want %d; stderr %s", out.code, ExitUnreachable, out.stderr)
	}
	if elapsed < time.Second || elapsed > 4*time.Second {
		t.Errorf("took %v; want retries until the 1.5s deadline, then a prompt exit", elapsed)
	}
	line := lastLogLine(t, out.stderr)
	if line["pod"] != "web-7d9f" || line["container"] != "app" || line["namespace"] != "shop" {
		t.Errorf("log line does not name the pod and container: %v", line)
	}
	if msg, _ := line["error"].(string); !strings.Contains(msg, "deadline exceeded") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q should say the deadline passed and why", msg)
	}
	assertNoLeak(t, out.stderr, "not-a-real-jwt")
}

func TestSignalInterruptsStartup(t *testing.T) {
	t.Parallel()
	env := append(settingsEnv(t, closedAddr(t)), settings.EnvTimeout+"=1m", "DB=vault:secret/app/db#password")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	// A parent deadline is not "our" deadline, but either way start-up ends promptly.
	began := time.Now()
	out := runEnvexec(ctx, t, []string{"--", "/bin/true"}, env)
	if out.code != ExitUnreachable || time.Since(began) > 5*time.Second {
		t.Fatalf("exit %d after %v, want %d promptly; stderr %s", out.code, time.Since(began), ExitUnreachable, out.stderr)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel2)
	out = runEnvexec(ctx2, t, []string{"--", "/bin/true"}, env)
	if out.code != ExitUnreachable || !strings.Contains(out.stderr, "interrupted") {
		t.Fatalf("exit %d, want %d and \"interrupted\"; stderr %s", out.code, ExitUnreachable, out.stderr)
	}
}
