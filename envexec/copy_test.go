package envexec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// An older copy is replaced, not appended to.
	if err := os.WriteFile(filepath.Join(dir, "envexec"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runEnvexec(t.Context(), t, []string{"copy", dir}, nil)
	if out.code != ExitOK || out.stderr != "" {
		t.Fatalf("copy: exit %d, stderr %s", out.code, out.stderr)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "envexec"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("copy differs from the running binary (%d vs %d bytes)", len(got), len(want))
	}
	fi, err := os.Stat(filepath.Join(dir, "envexec"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dir has %d entries, want only envexec (no temporary files left)", len(entries))
	}
}

func TestCopyFailure(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	out := runEnvexec(t.Context(), t, []string{"copy", dir}, nil)
	if out.code != ExitCopy {
		t.Fatalf("exit %d, want %d", out.code, ExitCopy)
	}
	line := lastLogLine(t, out.stderr)
	if line["level"] != "ERROR" || !bytes.Contains([]byte(line["error"].(string)), []byte(dir)) {
		t.Errorf("log line %v should be an error naming %s", line, dir)
	}
}
