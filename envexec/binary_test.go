package envexec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// built is the envexec binary of this test run, built once.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// envexecBinary builds the real static binary once per test binary; TestMain removes it.
func envexecBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		// Not t.TempDir: the binary outlives the first test that needs it.
		if built.dir, built.err = os.MkdirTemp("", "envexec-bin-"); built.err != nil { //nolint:usetesting // see above
			return
		}
		built.path = filepath.Join(built.dir, "envexec")
		cmd := exec.Command("go", "build", "-trimpath", "-o", built.path, "github.com/vault-injector/vault-injector/cmd/envexec") //nolint:noctx // shared by tests
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// TestBinaryEndToEnd builds the real static binary and lets it exec a shell that
// prints the secret: the application sees the value, envexec's stderr never does.
func TestBinaryEndToEnd(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	password := canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"password": password}})

	bin := envexecBinary(t)
	env, jwt := f.env(t, "DB_PASSWORD=vault:secret/"+u+"/db#password")
	cmd := exec.CommandContext(t.Context(), bin, "--", "/bin/sh", "-c", `printf %s "$DB_PASSWORD"; env | grep -c '^ENVEXEC_' >&2 || true`)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("envexec: %v\nstderr: %s", err, stderr.String())
	}
	if stdout.String() != password {
		t.Errorf("stdout %q, want the secret", stdout.String())
	}
	assertNoLeak(t, stderr.String(), password, jwt)
	// The shell's count of ENVEXEC_ variables is the last stderr line.
	lines := bytes.Split(bytes.TrimSpace(stderr.Bytes()), []byte("\n"))
	if last := string(lines[len(lines)-1]); last != "0" {
		t.Errorf("the application sees %s ENVEXEC_ variables, want 0; stderr:\n%s", last, stderr.String())
	}
}

// binaryRun is one run of the real envexec binary.
type binaryRun struct {
	code           int
	stdout, stderr string
}

// runBinary runs the real binary with exactly env (nothing of the test's own).
func runBinary(t *testing.T, env []string, args ...string) binaryRun {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), envexecBinary(t), args...)
	cmd.Env = append([]string{}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running envexec: %v", err)
	}
	return binaryRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}
