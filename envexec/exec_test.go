package envexec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestLookPath(t *testing.T) {
	t.Parallel()
	dir1, dir2 := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir1, "noexec"), 0o644)
	write(t, filepath.Join(dir2, "noexec"), 0o755)
	write(t, filepath.Join(dir2, "app"), 0o755)
	write(t, filepath.Join(dir1, "app"), 0o700)
	if err := os.Mkdir(filepath.Join(dir1, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		file, path string
		want       string
		wantEntry  int
		wantErr    string
	}{
		"first match wins":     {file: "app", path: dir1 + ":" + dir2, want: dir1 + "/app", wantEntry: 1},
		"skips non-executable": {file: "noexec", path: dir1 + ":" + dir2, want: dir2 + "/noexec", wantEntry: 2},
		"skips directories":    {file: "adir", path: dir1, wantErr: `command "adir" is not an executable file in PATH (1 entry searched)`},
		"not found":            {file: "missing", path: dir1 + ":" + dir2, wantErr: `command "missing" is not an executable file in PATH (2 entries searched)`},
		"empty entries count":  {file: "missing", path: ":" + dir1 + ":", wantErr: `command "missing" is not an executable file in PATH (3 entries searched)`},
		"slash bypasses PATH":  {file: dir2 + "/app", path: "/nonexistent", want: dir2 + "/app"},
		"slash not executable": {file: dir1 + "/noexec", path: dir2, wantErr: dir1 + "/noexec is not executable"},
		"slash missing":        {file: dir1 + "/nope", path: dir2, wantErr: "no such file"},
		"empty command":        {file: "", path: dir1, wantErr: "empty command"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, entry, err := lookPath(tt.file, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("lookPath = %q, %v; want error with %q", got, err, tt.wantErr)
				}
				if !strings.HasPrefix(tt.file, "/") && (strings.Contains(err.Error(), dir1) || strings.Contains(err.Error(), dir2)) {
					t.Errorf("error %q quotes PATH", err)
				}
				return
			}
			if err != nil || got != tt.want || entry != tt.wantEntry {
				t.Errorf("lookPath = %q, %d, %v; want %q, %d", got, entry, err, tt.want, tt.wantEntry)
			}
		})
	}
}

// An empty PATH element is the working directory, as in a POSIX shell. Not parallel:
// it changes the working directory.
func TestLookPathEmptyElementIsWorkingDir(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "local"), 0o755)
	t.Chdir(dir)
	got, entry, err := lookPath("local", "/nonexistent::/also-not")
	if err != nil || got != "./local" || entry != 2 {
		t.Errorf("lookPath = %q, %v; want ./local", got, err)
	}
}

func TestPathOf(t *testing.T) {
	t.Parallel()
	if got := pathOf([]string{"HOME=/", "PATH=/a", "PATH=/b"}); got != "/b" {
		t.Errorf("pathOf = %q, want the last PATH", got)
	}
	if got := pathOf([]string{"HOME=/"}); got != defaultPath {
		t.Errorf("pathOf = %q, want the default", got)
	}
	if got := pathOf([]string{"PATH="}); got != "" {
		t.Errorf("pathOf = %q, want an empty PATH kept", got)
	}
}

// TestSettingsNeverReachTheApplication checks that buildEnv drops every ENVEXEC_* entry,
// and only those.
func TestSettingsNeverReachTheApplication(t *testing.T) {
	t.Parallel()
	got, err := buildEnv([]string{"A=1", settings.EnvRole + "=r", "ENVEXECUTOR=keep", settings.EnvPrefix + "ANY=x", "VAULT_TOKEN=t"}, resolved{}, nil)
	want := []string{"A=1", "ENVEXECUTOR=keep", "VAULT_TOKEN=t"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("buildEnv = %q, %v, want %q", got, err, want)
	}
}

func write(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestExplainExecError(t *testing.T) {
	t.Parallel()
	big := "BIG=" + strings.Repeat("s", maxEnvEntry)
	argv := []string{"/app", strings.Repeat("a", maxEnvEntry), strings.Repeat("o", maxEnvEntry-1)}
	err := explainExecError(syscall.E2BIG, argv, []string{"A=1", big, "OK=" + strings.Repeat("s", maxEnvEntry-4)})
	if !errors.Is(err, syscall.E2BIG) || !strings.Contains(err.Error(), "variable BIG (131076 bytes)") || strings.Contains(err.Error(), "sss") ||
		strings.Contains(err.Error(), "OK") || !strings.Contains(err.Error(), "argument argv[1] (131072 bytes)") ||
		strings.Contains(err.Error(), "aaa") || strings.Contains(err.Error(), "argv[2]") {
		t.Errorf("explainExecError = %v", err)
	}
	if err := explainExecError(syscall.E2BIG, []string{"/app"}, []string{"A=1"}); !strings.Contains(err.Error(), "together exceed") {
		t.Errorf("explainExecError without a large variable = %v", err)
	}
	if err := explainExecError(syscall.ENOENT, nil, nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("other errors changed: %v", err)
	}
	// The limit is real: the kernel refuses one byte more.
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.StartProcess(bin, []string{bin, "-test.run=^$"}, &os.ProcAttr{Env: []string{"X=" + strings.Repeat("a", maxEnvEntry-2)}})
	if !errors.Is(err, syscall.E2BIG) {
		t.Errorf("starting with a %d-byte variable: %v, want E2BIG", maxEnvEntry+1, err)
	}
}

func TestPeakRSS(t *testing.T) {
	t.Parallel()
	if n := peakRSSKiB(); n <= 0 {
		t.Fatalf("peakRSSKiB() = %d, want the test process's high-water mark", n)
	}
}
