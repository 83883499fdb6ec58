//go:build linux

package envexec

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestEnvironEncoding(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"empty":       nil,
		"usual":       {"PATH=/usr/bin:/bin", "HOME=/root"},
		"odd entries": {"", "NO_EQUALS", "A==b=c", "MULTI=line\none", "U=ünïcode", "EMPTY="},
		"backslashes": {`ESCAPED=\x00\0`},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeEnviron(encodeEnviron(env))
			if err != nil || !slices.Equal(got, env) {
				t.Errorf("round trip = %q, %v; want %q", got, err, env)
			}
		})
	}
	if _, err := decodeEnviron([]byte("A=1\x00B=2")); err == nil || err.Error() != "the last entry is not NUL-terminated" {
		t.Errorf("decoding an unterminated entry: %v", err)
	}
}

// The second stage reads its environment from the sealed memfd, works exactly as the
// in-process path does, and closes the memfd so the application does not inherit it.
func TestSecondStageReadsTheSealedMemfd(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	write(t, filepath.Join(bin, "app"), 0o755)
	environ := append(settingsEnv(t, closedAddr(t)), "PATH="+bin, "GODEBUG=http2debug=2", "SSL_CERT_FILE=/tenant/ca.pem")
	fd := sealedForTest(t, environ)
	ino := inode(t, fd)
	out := runEnvexec(t.Context(), t, []string{environFlag, strconv.Itoa(fd), "--", "app", "arg"}, nil)
	if out.code != ExitOK || !out.execed {
		t.Fatalf("exit %d, execed %v; stderr %s", out.code, out.execed, out.stderr)
	}
	if out.path != bin+"/app" || !slices.Equal(out.argv, []string{"app", "arg"}) {
		t.Errorf("exec'd %q %q, want %s/app found through the memfd's PATH", out.path, out.argv, bin)
	}
	for name, want := range map[string]string{"GODEBUG": "http2debug=2", "SSL_CERT_FILE": "/tenant/ca.pem", "PATH": bin} {
		if got, _ := envValue(out.env, name); got != want {
			t.Errorf("the application's %s = %q, want %q", name, got, want)
		}
	}
	if _, ok := envValue(out.env, settings.EnvRole); ok {
		t.Errorf("the application got %s: settings from the memfd must be stripped as usual", settings.EnvRole)
	}
	if fds := openFDsOf(t, ino); len(fds) > 0 {
		t.Errorf("the memfd is still open as descriptor %v after the second stage read it", fds)
	}
}

// The internal entry point does nothing the normal path would not: with an environment
// of its own (which the Go runtime would obey), or without a sealed memfd, it refuses
// before reading settings or contacting Vault.
func TestSecondStageRefuses(t *testing.T) {
	t.Parallel()
	vaultHits := countingServer(t)
	environ := append(settingsEnv(t, vaultHits.addr), "PATH=/usr/bin:/bin", "DB=vault:secret/app#password")
	sealed := func(t *testing.T) string { return ownFD(t, sealedForTest(t, environ)) }
	unsealed := func(t *testing.T) string {
		fd, err := unix.MemfdCreate("envexec-environ", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(fd, encodeEnviron(environ)); err != nil {
			t.Fatal(err)
		}
		return ownFD(t, fd)
	}
	regularFile := func(t *testing.T) string {
		fd, err := unix.Open(writeFile(t, string(encodeEnviron(environ))), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ownFD(t, fd)
	}
	tests := map[string]struct {
		own     []string
		args    func(t *testing.T) []string
		wantErr string
	}{
		"own environment": {
			own:     []string{"GODEBUG=http2debug=2"},
			args:    func(t *testing.T) []string { return []string{sealed(t), "--", "true"} },
			wantErr: "--environ-fd is internal to envexec and needs an empty environment (it has 1 variable)",
		},
		"unsealed memfd": {
			args:    func(t *testing.T) []string { return []string{unsealed(t), "--", "true"} },
			wantErr: "the memfd is not sealed (seals 0x0, want 0xf)",
		},
		"regular file": {
			args:    func(t *testing.T) []string { return []string{regularFile(t), "--", "true"} },
			wantErr: "not a sealed memfd: invalid argument",
		},
		"stdin": {
			args:    func(*testing.T) []string { return []string{"0", "--", "true"} },
			wantErr: `--environ-fd "0" is not a descriptor above stderr`,
		},
		"no descriptor": {
			args:    func(*testing.T) []string { return []string{"--", "true"} },
			wantErr: "--environ-fd takes a descriptor, then -- COMMAND [ARG...]",
		},
		"another command": {
			args:    func(t *testing.T) []string { return []string{sealed(t), "copy", t.TempDir()} },
			wantErr: "--environ-fd takes a descriptor, then -- COMMAND [ARG...]",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := runEnvexec(t.Context(), t, append([]string{environFlag}, tt.args(t)...), tt.own)
			msg, _ := lastLogLine(t, out.stderr)["error"].(string)
			if out.code != ExitExec || out.execed || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("exit %d, execed %v, error %q; want exit %d with %q", out.code, out.execed, msg, ExitExec, tt.wantErr)
			}
			if !strings.HasPrefix(msg, "cannot isolate envexec from the container's environment: ") {
				t.Errorf("error %q does not say why envexec stopped", msg)
			}
			if n := vaultHits.n.Load(); n != 0 {
				t.Errorf("a refused second stage contacted Vault (%d connections so far)", n)
			}
		})
	}
}

// sealedForTest is sealEnviron's memfd, but close-on-exec: envexec's own is inherited on
// purpose, and would leak into every process a parallel test starts. The fork lock
// keeps them from forking before the flag is set.
func sealedForTest(t *testing.T, environ []string) int {
	t.Helper()
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := sealEnviron(environ)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	return fd
}

// ownFD closes fd when the test ends, unless envexec closed it (by the inode, since a
// closed descriptor's number may be reused by a parallel test).
func ownFD(t *testing.T, fd int) string {
	t.Helper()
	ino := inode(t, fd)
	t.Cleanup(func() {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil && st.Ino == ino {
			syscall.Close(fd)
		}
	})
	return strconv.Itoa(fd)
}

// When envexec cannot re-execute itself it fails closed: it neither fetches secrets
// nor starts the application with the container's environment acting on it.
func TestReexecFailsClosed(t *testing.T) {
	t.Parallel()
	vaultHits := countingServer(t)
	env := append(settingsEnv(t, vaultHits.addr), "PATH=/usr/bin:/bin", "DB=vault:secret/app#password")
	var stdout, stderr strings.Builder
	execed := false
	r := &Runner{
		Environ: env, Stdout: &stdout, Stderr: &stderr, Isolate: true, self: "/nonexistent/envexec",
		Exec: func(string, []string, []string) error { execed = true; return nil },
	}
	code := r.Run(t.Context(), []string{"--", "true"})
	msg, _ := lastLogLine(t, stderr.String())["error"].(string)
	want := "cannot isolate envexec from the container's environment: re-executing /nonexistent/envexec with an empty environment: no such file or directory"
	if code != ExitExec || execed || msg != want {
		t.Errorf("exit %d, execed %v, error %q; want exit %d with %q", code, execed, msg, ExitExec, want)
	}
	if n := vaultHits.n.Load(); n != 0 {
		t.Errorf("envexec contacted Vault %d times before isolating itself", n)
	}
}

// inode identifies the file open as fd.
func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// openFDsOf lists this process's descriptors open on the memfd with inode ino (by inode,
// since a closed descriptor's number may be reused by a parallel test).
func openFDsOf(t *testing.T, ino uint64) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(link, "/memfd:envexec-environ") {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/self/fd/"+e.Name(), &st) == nil && st.Ino == ino {
			out = append(out, e.Name())
		}
	}
	return out
}
