package envexec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A PATH from a reference is a secret: when the command is not found, or found but not
// started, the error names the command and counts PATH's entries, never quotes them.
func TestSecretPATHNotInErrors(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	hidden := filepath.Join(t.TempDir(), canary(t))
	if err := os.Mkdir(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(hidden, "app"), 0o755)
	secretPath := "/nonexistent/" + canary(t) + ":" + hidden
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"path": secretPath}})
	tests := map[string]struct {
		command string
		execErr error
		want    string
	}{
		"not found": {
			command: "no-such-app",
			want:    `cannot exec the application: command "no-such-app" is not an executable file in PATH (2 entries searched)`,
		},
		"found, exec fails": {
			command: "app", execErr: syscall.EACCES,
			want: `cannot exec the application: command "app" (found in PATH entry 2): permission denied`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, jwt := f.env(t, "PATH=vault:secret/"+u+"#path")
			var stdout, stderr strings.Builder
			r := &Runner{Environ: env, Stdout: &stdout, Stderr: &stderr, Exec: func(path string, _, _ []string) error {
				if path != hidden+"/app" {
					t.Errorf("exec'd %q, want the command found in the secret PATH", path)
				}
				return tt.execErr
			}}
			code := r.Run(t.Context(), []string{"--", tt.command})
			msg, _ := lastLogLine(t, stderr.String())["error"].(string)
			if code != ExitExec || msg != tt.want {
				t.Errorf("exit %d, error %q; want exit %d, %q", code, msg, ExitExec, tt.want)
			}
			assertNoLeak(t, stderr.String(), secretPath, hidden, filepath.Base(hidden), jwt)
		})
	}
}
