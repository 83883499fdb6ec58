package envexec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/vault-injector/vault-injector/vaultref"
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

// explainExecError adds to E2BIG which variables or arguments are too large, since the
// kernel's "argument list too long" does not say. It names them and their sizes, never
// values.
func explainExecError(err error, argv, env []string) error {
	if !errors.Is(err, syscall.E2BIG) {
		return err
	}
	var big []string
	for i, a := range argv {
		if len(a)+1 > maxEnvEntry {
			big = append(big, fmt.Sprintf("argument %s (%d bytes)", argName(i), len(a)))
		}
	}
	for _, kv := range env {
		if len(kv)+1 > maxEnvEntry {
			name, _, _ := strings.Cut(kv, "=")
			big = append(big, fmt.Sprintf("variable %s (%d bytes)", name, len(kv)))
		}
	}
	if len(big) == 0 {
		return fmt.Errorf("%w: the environment and arguments together exceed the kernel's limit", err)
	}
	return fmt.Errorf("%w: %s over the kernel's limit of %d bytes for one argument or NAME=VALUE; deliver such secrets as files",
		err, strings.Join(big, ", "), maxEnvEntry)
}

// application is what envexec starts: the resolved command line and environment, and
// the command as written, which names it in messages.
type application struct {
	path string
	argv []string
	env  []string
	// command is argv[0] as written. When it holds a reference, the resolved command
	// is a secret: messages name this instead, and drop Go's errors that quote paths.
	command string
	// entry is the 1-based PATH entry the command was found in; 0 when argv[0] holds
	// a "/". PATH may be a secret, so messages give this number, never the directory.
	entry int
}

// newApplication builds the environment and command line from what was resolved and
// finds the command through the PATH of the new environment.
func newApplication(environ, argv []string, res resolved, passthrough []string) (application, error) {
	env, err := buildEnv(environ, res, passthrough)
	if err != nil {
		return application{}, err
	}
	resolvedArgv, err := buildArgv(argv, res)
	if err != nil {
		return application{}, err
	}
	app := application{argv: resolvedArgv, env: env, command: argv[0]}
	app.path, app.entry, err = lookPath(resolvedArgv[0], pathOf(env))
	switch {
	case err == nil:
		return app, nil
	case app.secretCommand():
		return application{}, fmt.Errorf("%w: the command %s (argv[0], from a reference) is not an executable file in PATH", errExec, app.command)
	default:
		return application{}, fmt.Errorf("%w: %w", errExec, err)
	}
}

func (a application) secretCommand() bool { return vaultref.HasRefs(a.command) }

// failed reports that starting the application failed. When the path is a secret, or
// holds a PATH entry, it names the command instead, and drops Go's errors that quote it.
func (a application) failed(err error) error {
	var what string
	switch {
	case a.secretCommand():
		what = "the command " + a.command + " (argv[0], from a reference)"
	case a.entry > 0:
		what = fmt.Sprintf("command %q (found in PATH entry %d)", a.command, a.entry)
	default:
		return fmt.Errorf("%w: %s: %w", errExec, a.path, err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // os.StartProcess quotes the path
	}
	return fmt.Errorf("%w: %s: %w", errExec, what, err)
}

// pathOf returns the PATH of environ (the last entry wins), or defaultPath if unset.
func pathOf(environ []string) string {
	path := defaultPath
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
}

// lookPath resolves file like a shell does, but with the PATH of the environment the
// application will get, not envexec's own (exec.LookPath only reads the process's).
// An empty PATH element means the working directory, as in POSIX shells. It also
// returns the 1-based PATH entry it found file in (0 when file holds a "/"). Its errors
// never quote PATH, which may come from a secret.
func lookPath(file, path string) (string, int, error) {
	if file == "" {
		return "", 0, errors.New("empty command")
	}
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", 0, err
		}
		return file, 0, nil
	}
	dirs := strings.Split(path, ":")
	for i, dir := range dirs {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if checkExecutable(p) == nil {
			return p, i + 1, nil
		}
	}
	searched := "1 entry"
	if len(dirs) != 1 {
		searched = fmt.Sprintf("%d entries", len(dirs))
	}
	return "", 0, fmt.Errorf("command %q is not an executable file in PATH (%s searched)", file, searched)
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
