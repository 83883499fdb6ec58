//go:build linux

package envexec

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// runtimeKnobs are variables Go's runtime and standard library read for the process
// itself: they belong to the application, and must not act on envexec.
var runtimeKnobs = []string{
	"GODEBUG=http2debug=2,x509sha1=1,tlsrsakex=1", "SSL_CERT_FILE=/tenant/ca.pem", "SSL_CERT_DIR=/tenant/certs",
	"GOTRACEBACK=crash", "GOMAXPROCS=1", "GOGC=400", "GOMEMLIMIT=1GiB",
}

// The real binary re-executes itself with an empty environment and keeps its PID:
// daemon mode keeps envexec alive, so the application can look at its parent.
func TestBinaryRunsWithAnEmptyEnvironment(t *testing.T) {
	t.Parallel()
	env := append(settingsEnv(t, closedAddr(t)), "PATH=/usr/bin:/bin", settings.EnvDaemon+"=true")
	env = append(env, runtimeKnobs...)
	script := `echo "ppid $PPID"
echo "envexec-environ-bytes $(wc -c < /proc/$PPID/environ)"
echo "memfds $(ls -l /proc/$PPID/fd/ /proc/$$/fd/ | grep -c memfd)"
env | grep -E '^(GODEBUG|SSL_CERT_FILE|SSL_CERT_DIR|GOTRACEBACK|GOMAXPROCS|GOGC|GOMEMLIMIT)=' | sort`
	cmd := exec.CommandContext(t.Context(), envexecBinary(t), "--", "/bin/sh", "-c", script)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("envexec: %v\nstderr: %s", err, stderr.String())
	}
	want := []string{
		"ppid " + strconv.Itoa(cmd.Process.Pid), // the re-exec kept envexec's PID
		"envexec-environ-bytes 0",
		"memfds 0", // the memfd is closed before the application starts
	}
	knobs := slices.Sorted(slices.Values(runtimeKnobs))
	want = append(want, knobs...) // the application still gets them
	if got := strings.Split(strings.TrimSpace(stdout.String()), "\n"); !slices.Equal(got, want) {
		t.Errorf("the application saw\n%s\nwant\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
	}
}

// Without daemon mode the application takes over envexec's PID (twice exec'd).
func TestBinaryKeepsItsPID(t *testing.T) {
	t.Parallel()
	env := append(settingsEnv(t, closedAddr(t)), "PATH=/usr/bin:/bin", "GOMAXPROCS=1")
	cmd := exec.CommandContext(t.Context(), envexecBinary(t), "--", "/bin/sh", "-c", `echo "$$ $GOMAXPROCS"`)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("envexec: %v", err)
	}
	if want := strconv.Itoa(cmd.Process.Pid) + " 1\n"; string(out) != want {
		t.Errorf("application printed %q, want %q (its PID is envexec's, its GOMAXPROCS is its own)", out, want)
	}
}

// The second stage started by hand does what "--" does with the memfd's environment,
// and refuses to run with an environment of its own.
func TestBinarySecondStageEntryPoint(t *testing.T) {
	t.Parallel()
	environ := append(settingsEnv(t, closedAddr(t)), "PATH=/usr/bin:/bin", "GREETING=hello")
	tests := map[string]struct {
		own        []string
		wantCode   int
		wantStdout string
		wantErr    string
	}{
		"empty environment": {own: []string{}, wantStdout: "hello"},
		"own environment": {
			own: []string{"GODEBUG=http2debug=2"}, wantCode: ExitExec,
			wantErr: "cannot isolate envexec from the container's environment: --environ-fd is internal to envexec and needs an empty environment (it has 1 variable)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			memfd := os.NewFile(uintptr(sealedForTest(t, environ)), "memfd")
			defer memfd.Close()
			// ExtraFiles[0] is descriptor 3 in the child.
			cmd := exec.CommandContext(t.Context(), envexecBinary(t), environFlag, "3", "--", "/bin/sh", "-c", `printf %s "$GREETING"`)
			cmd.Env = tt.own
			cmd.ExtraFiles = []*os.File{memfd}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run() // the exit code is checked below
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || stdout.String() != tt.wantStdout {
				t.Fatalf("exit %d, stdout %q; want %d, %q; stderr %s", code, stdout.String(), tt.wantCode, tt.wantStdout, stderr.String())
			}
			if tt.wantErr != "" {
				if msg, _ := lastLogLine(t, stderr.String())["error"].(string); msg != tt.wantErr {
					t.Errorf("error %q, want %q", msg, tt.wantErr)
				}
			}
		})
	}
}
