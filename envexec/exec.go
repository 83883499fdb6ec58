package envexec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// defaultPath is used when the new environment has no PATH, as container runtimes do.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExecFunc replaces the current process; it returns only on failure. It has
// syscall.Exec's signature so the real thing plugs in unchanged.
type ExecFunc func(path string, argv, env []string) error

// syscall.Exec is the default ExecFunc: the application takes over envexec's PID.
var _ ExecFunc = syscall.Exec

// maxEnvEntry is Linux's MAX_ARG_STRLEN: one "NAME=VALUE" string, with its terminating
// NUL, may not exceed 32 pages. Larger values resolve fine but cannot be exec'd.
const maxEnvEntry = 32 * 4096

// explainExecError adds to E2BIG which variables are too large, since the kernel's
// "argument list too long" does not say. It names variables and sizes, never values.
func explainExecError(err error, env []string) error {
	if !errors.Is(err, syscall.E2BIG) {
		return err
	}
	var big []string
	for _, kv := range env {
		if len(kv)+1 > maxEnvEntry {
			name, _, _ := strings.Cut(kv, "=")
			big = append(big, fmt.Sprintf("%s (%d bytes)", name, len(kv)))
		}
	}
	if len(big) == 0 {
		return fmt.Errorf("%w: the environment and arguments together exceed the kernel's limit", err)
	}
	return fmt.Errorf("%w: %s %s over the kernel's limit of %d bytes for one NAME=VALUE; deliver such secrets as files",
		err, plural("variable", len(big)), strings.Join(big, ", "), maxEnvEntry)
}

// withoutSettings drops every ENVEXEC_* entry, so the application never sees them.
func withoutSettings(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// pathOf returns the PATH of environ (the last entry wins), or defaultPath if unset.
func pathOf(environ []string) string {
	path, found := defaultPath, false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path, found = v, true
		}
	}
	if !found {
		return defaultPath
	}
	return path
}

// lookPath resolves file like a shell does, but with the PATH of the environment the
// application will get, not envexec's own (exec.LookPath only reads the process's).
// An empty PATH element means the working directory, as in POSIX shells.
func lookPath(file, path string) (string, error) {
	if file == "" {
		return "", errors.New("empty command")
	}
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q", file, path)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
