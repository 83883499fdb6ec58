package envexec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBinaryEndToEnd builds the real static binary and lets it exec a shell that
// prints the secret: the application sees the value, envexec's stderr never does.
func TestBinaryEndToEnd(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	password := canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"password": password}})

	bin := filepath.Join(t.TempDir(), "envexec")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", bin, "github.com/vault-injector/vault-injector/cmd/envexec")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

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
