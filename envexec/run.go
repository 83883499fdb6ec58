// Package envexec is the tiny PID 1 of an injected container: it replaces vault:
// references in its environment with secrets read from Vault, strips its own ENVEXEC_*
// settings, and execs the application in its place. See docs/envexec.md.
package envexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/buildinfo"
)

// Runner runs envexec with its side effects as fields, so tests drive the real flow and
// observe the exec instead of being replaced by it.
type Runner struct {
	// Environ is the process environment as "KEY=VALUE" entries.
	Environ []string
	// Stdout receives the version.
	Stdout io.Writer
	// Stderr receives usage text and JSON log lines.
	Stderr io.Writer
	// Exec starts the application; nil means syscall.Exec.
	Exec ExecFunc
	// Isolate makes "--" re-execute envexec (same binary, same PID) with an empty
	// environment before anything else, handing Environ to that second stage through a
	// sealed memfd, so that the container's GODEBUG, SSL_CERT_FILE, GOMAXPROCS and the
	// like act on the application only, never on envexec. Main sets it; in-process tests
	// do not, since the re-exec would replace the test binary.
	Isolate bool
	// self is the binary Isolate re-executes; empty means /proc/self/exe.
	self string
}

// Main is the whole program for cmd/envexec: args exclude the program name, and the
// result is the exit code, so only main calls os.Exit. It isolates "--" from the
// container's environment (Runner.Isolate), which only the real process can do.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	r := &Runner{Environ: environ, Stdout: stdout, Stderr: stderr, Isolate: true}
	return r.Run(ctx, args)
}

// invocation is one run's state: the logger gains pod/container labels once the
// settings are known.
type invocation struct {
	*Runner
	log *slog.Logger
}

// Run executes one command line (without the program name) and returns its exit code.
// A failure is reported as exactly one JSON line on Stderr.
func (r *Runner) Run(ctx context.Context, args []string) int {
	inv := &invocation{Runner: r, log: newLogger(r.Stderr, settings.Settings{LogLevel: slog.LevelInfo})}
	err := inv.dispatch(ctx, args)
	code := exitCode(err)
	var done *exitError
	if err != nil && !errors.As(err, &done) {
		inv.log.Error("envexec failed", append(errorAttrs(err), "exitCode", code)...)
	}
	if code == ExitUsage {
		fmt.Fprint(r.Stderr, usage())
	}
	return code
}

func (inv *invocation) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing command", errUsage)
	}
	switch cmd := args[0]; {
	case cmd == "-h" || cmd == "--help" || cmd == "help":
		fmt.Fprint(inv.Stderr, usage())
		return nil
	case cmd == "--" && len(args) > 1 && inv.Isolate:
		return inv.reexec(args)
	case cmd == "--" && len(args) > 1:
		return inv.start(ctx, args[1:])
	case cmd == environFlag:
		return inv.secondStage(ctx, args[1:])
	default:
		return inv.tool(args)
	}
}

// tool runs the commands besides starting an application: version [--json] and copy.
func (inv *invocation) tool(args []string) error {
	switch cmd := args[0]; {
	case cmd == "version":
		if err := buildinfo.Command("envexec", args[1:], inv.Stdout); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return nil
	case cmd == "copy" && len(args) == 2:
		return copySelf(args[1])
	case cmd == "--" || cmd == "copy":
		return fmt.Errorf("%w: wrong number of arguments for %q", errUsage, cmd)
	default:
		return fmt.Errorf("%w: unknown command %q (the application's command goes after \"--\")", errUsage, cmd)
	}
}

// start resolves the references of the environment and of argv, then execs argv with
// the new environment, or in daemon mode runs it as a child.
func (inv *invocation) start(ctx context.Context, argv []string) error {
	s, err := settings.ParseSettings(inv.Environ)
	if err != nil {
		return err
	}
	inv.log = newLogger(inv.Stderr, s)
	vars, err := findReferences(inv.Environ, argv)
	if err != nil {
		return err
	}
	vars = append(vars, findFiles(s.Files)...)
	if err := checkPolicy(vars, s); err != nil {
		return err
	}
	began := time.Now()
	fetchCtx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	var res resolved
	var sess *session
	if len(vars) > 0 || len(s.FromPath) > 0 {
		if res, sess, err = inv.fetch(fetchCtx, s, vars); err != nil {
			return err
		}
	}
	app, err := newApplication(inv.Environ, argv, res, s.Passthrough)
	if err == nil {
		err = writeFiles(s.FilesDir, s.Files, res.files)
	}
	if err != nil {
		if sess != nil {
			inv.abandonToken(ctx, s, sess.c)
		}
		return err
	}
	inv.releaseToken(ctx, s, vars, sess)
	nargs, nfiles := countUsers(vars)
	inv.log.Info("starting application", "command", argv[0], "variables", len(vars)-nargs-nfiles, "arguments", nargs, "files", nfiles,
		"daemon", s.Daemon, "elapsed", time.Since(began).String())
	if s.Daemon {
		return inv.daemonize(ctx, s, vars, sess, argv, app)
	}
	if inv.log.Enabled(ctx, slog.LevelDebug) {
		// What envexec cost the container before handing over: the kernel's high-water mark.
		inv.log.Debug("peak memory before exec", "peakRSSKiB", peakRSSKiB())
	}
	exec := inv.Exec
	if exec == nil {
		exec = syscall.Exec
	}
	if err := exec(app.path, app.argv, app.env); err != nil {
		return app.failed(explainExecError(err, app.argv, app.env))
	}
	return nil
}

// releaseToken revokes the token envexec logged in with, now that it has what it needs,
// unless someone still needs it (see keepToken). A failure is only a warning: the
// token's TTL bounds it, and the application should not fail for it.
func (inv *invocation) releaseToken(ctx context.Context, s settings.Settings, vars []variable, sess *session) {
	if sess == nil {
		return // no login: no reference and no from-path secret
	}
	if why := keepToken(s, vars, sess); why != "" {
		inv.log.Debug("vault token not revoked", "reason", why)
		return
	}
	if err := sess.c.revokeSelf(ctx); err != nil {
		inv.log.Warn("vault token not revoked, its TTL bounds it", "error", err.Error())
		return
	}
	inv.log.Debug("vault token revoked")
}

// keepToken says why the token must outlive the exec, or "" when it may be revoked.
func keepToken(s settings.Settings, vars []variable, sess *session) string {
	switch {
	case s.AuthMethod == settings.AuthToken:
		return "given by " + settings.EnvVaultTokenFile + ", not obtained by envexec"
	case s.Daemon:
		return "daemon mode renews it"
	case usesLogin(vars):
		return "the application holds it (vault:login)"
	case len(sess.leases) > 0:
		// Vault revokes a token's leases with it: a certificate or database credential
		// the application just got would die at once.
		return fmt.Sprintf("the leases of %d dynamic %s would be revoked with it", len(sess.leases), plural("secret", len(sess.leases)))
	}
	return ""
}

// findReferences lists the variables, then the arguments, that hold references, and
// reports every malformed one at once.
func findReferences(environ, argv []string) ([]variable, error) {
	vars, errVars := findVariables(environ)
	args, errArgs := findArguments(argv)
	if err := errors.Join(errVars, errArgs); err != nil {
		return nil, err
	}
	return append(vars, args...), nil
}

// countUsers counts the arguments and the files among vars; the rest are variables.
func countUsers(vars []variable) (args, files int) {
	for _, v := range vars {
		switch {
		case v.arg:
			args++
		case v.file:
			files++
		}
	}
	return args, files
}

// fetch logs in and resolves every reference and from-path secret within ctx's deadline.
func (inv *invocation) fetch(ctx context.Context, s settings.Settings, vars []variable) (resolved, *session, error) {
	c, err := newClient(s, inv.log)
	if err != nil {
		return resolved{}, nil, fmt.Errorf("%w: %w", errSettings, err)
	}
	if err := c.authenticate(ctx, s); err != nil {
		return resolved{}, nil, err
	}
	inv.log.Debug("logged in", "method", string(s.AuthMethod), "authPath", s.AuthPath, "role", s.Role)
	res, sess, err := inv.resolveWith(ctx, s, c, vars)
	if err != nil && !errors.Is(err, errUnreachable) {
		// An unreachable Vault would not hear the revocation either: exit at the deadline.
		inv.abandonToken(ctx, s, c)
	}
	return res, sess, err
}

// abandonTimeout bounds the revocation of a failed start-up's token.
const abandonTimeout = time.Second

// abandonToken revokes the token of a start-up that failed after login: no application
// got it, so nothing needs it, and a crash loop would otherwise pile up live tokens (with
// the leases of what was read). A token the platform gave (the token method) is not
// envexec's to revoke.
func (inv *invocation) abandonToken(ctx context.Context, s settings.Settings, c *client) {
	if s.AuthMethod == settings.AuthToken {
		return
	}
	// The start-up deadline may have passed: a short one of its own, so a Vault that stops
	// answering now delays the exit (and the kubelet's restart) by little.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	if err := c.revokeSelf(ctx); err != nil {
		inv.log.Warn("vault token of the failed start-up not revoked, its TTL bounds it", "error", err.Error())
		return
	}
	inv.log.Debug("vault token of the failed start-up revoked")
}

// resolveWith resolves with a logged-in client; daemon mode calls it again for fresh
// secrets.
func (inv *invocation) resolveWith(ctx context.Context, s settings.Settings, c *client, vars []variable) (resolved, *session, error) {
	needs := needsOf(vars, s.FromPath)
	rs := &resolver{c: c, s: s}
	rs.resolve(ctx, needs)
	res, err := finish(vars, needs, s.IgnoreMissing, inv.log)
	if err != nil {
		return resolved{}, nil, err
	}
	if res.extra, err = fromPathVariables(needs, s.IgnoreMissing, inv.log); err != nil {
		return resolved{}, nil, err
	}
	return res, &session{c: c, leases: rs.leases, kv: watched(rs.kv)}, nil
}

func newLogger(w io.Writer, s settings.Settings) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: s.LogLevel})
	if s.LogText {
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: s.LogLevel})
	}
	return slog.New(h).With("pod", s.Pod, "namespace", s.Namespace, "container", s.Container)
}

// errorAttrs names the variables, arguments and path of the first reference error, if
// any, as their own keys, next to the full error text.
func errorAttrs(err error) []any {
	attrs := []any{"error", err.Error()}
	var re *refError
	if errors.As(err, &re) {
		if len(re.variables) > 0 || len(re.arguments) == 0 {
			attrs = append(attrs, "variables", re.variables)
		}
		if len(re.files) > 0 {
			attrs = append(attrs, "files", re.files)
		}
		if len(re.arguments) > 0 {
			attrs = append(attrs, "arguments", re.arguments)
		}
		if re.path != "" {
			attrs = append(attrs, "path", re.path)
		}
	}
	return attrs
}

// peakRSSKiB reads VmHWM from /proc/self/status; 0 where it is not available.
func peakRSSKiB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err == nil {
				return n
			}
		}
	}
	return 0
}
