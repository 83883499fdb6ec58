package envexec

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// Exit codes are part of envexec's interface: a pod's last state shows them, so each
// kind of failure gets its own (see docs/envexec.md).
const (
	// ExitOK means the command printed what was asked (help, version) or copy succeeded.
	ExitOK = 0
	// ExitUsage means the command line was wrong.
	ExitUsage = 2
	// ExitSettings means an ENVEXEC_* setting or a vault: reference is malformed.
	ExitSettings = 3
	// ExitLogin means Vault refused the login, or the token file could not be read.
	ExitLogin = 4
	// ExitSecret means a secret or key is missing (unless ignored), reading or writing it
	// was denied, or its value does not fit the reference (a transform failed).
	ExitSecret = 5
	// ExitUnreachable means Vault did not answer usefully before the deadline (or a
	// signal interrupted start-up).
	ExitUnreachable = 6
	// ExitExec means the application could not be started, or envexec could not
	// re-execute itself with an empty environment to start it safely.
	ExitExec = 7
	// ExitCopy means "envexec copy" could not install the binary.
	ExitCopy = 8
	// ExitLeaseExpired means daemon mode stopped the application because a lease could
	// not be renewed (ENVEXEC_DAEMON_ON_EXPIRY=stop), so the container restarts.
	ExitLeaseExpired = 9
	// ExitFiles means a file (ENVEXEC_FILES) could not be written: something other than
	// a regular file or directory is in the way, or the volume refused the write.
	ExitFiles = 10
)

// exitCodeTable documents the codes for usage text and is checked against docs/envexec.md.
func exitCodeTable() []struct {
	code    int
	meaning string
} {
	return []struct {
		code    int
		meaning string
	}{
		{ExitOK, "success (help, version, copy)"},
		{ExitUsage, "usage error"},
		{ExitSettings, "malformed ENVEXEC_* setting or reference, or a reference the pod does not allow"},
		{ExitLogin, "Vault login failed (denied, bad role or token, unreadable credential file)"},
		{ExitSecret, "secret or key missing, read or write denied, or a transform failed"},
		{ExitUnreachable, "Vault unreachable before the deadline, or interrupted"},
		{ExitExec, "could not exec the application, or re-execute envexec with an empty environment"},
		{ExitCopy, "copy failed"},
		{ExitLeaseExpired, "daemon mode stopped the application: a lease could not be renewed"},
		{ExitFiles, "a file could not be written (something in the way, or the volume refused it)"},
	}
}

// Sentinels classify failures; exitCode is the one place that maps them to codes.
var (
	errUsage       = errors.New("usage")
	errSettings    = settings.ErrInvalid
	errReference   = errors.New("bad vault reference")
	errLogin       = errors.New("vault login failed")
	errSecret      = errors.New("secret unavailable")
	errMissing     = errors.New("secret not found")
	errUnreachable = errors.New("vault unreachable")
	errExec        = errors.New("cannot exec the application")
	errCopy        = errors.New("copy failed")
)

// exitCode maps an error to its exit code. Input problems win over infrastructure
// problems when several are joined, because fixing them does not depend on Vault.
func exitCode(err error) int {
	order := []struct {
		sentinel error
		code     int
	}{
		{errUsage, ExitUsage},
		{errSettings, ExitSettings},
		{errReference, ExitSettings},
		{errLogin, ExitLogin},
		{errSecret, ExitSecret},
		{errMissing, ExitSecret},
		{errUnreachable, ExitUnreachable},
		{errExec, ExitExec},
		{errIsolate, ExitExec},
		{errCopy, ExitCopy},
		{errFiles, ExitFiles},
	}
	if err == nil {
		return ExitOK
	}
	var done *exitError
	if errors.As(err, &done) {
		return done.code
	}
	for _, o := range order {
		if errors.Is(err, o.sentinel) {
			return o.code
		}
	}
	return 1
}

// refError ties a failure to the variables, arguments and Vault path it concerns, so
// the final log line names them as separate keys. It never holds a value.
type refError struct {
	variables []string
	// arguments name the application's arguments, "argv[N]".
	arguments []string
	// files name files by path.
	files []string
	path  string
	err   error
}

// add names v (a variable, an argument or a file) once.
func (e *refError) add(v variable) {
	list := &e.variables
	switch {
	case v.arg:
		list = &e.arguments
	case v.file:
		list = &e.files
	}
	if !slices.Contains(*list, v.name) {
		*list = append(*list, v.name)
	}
}

func (e *refError) Error() string {
	var subjects []string
	if len(e.variables) > 0 {
		subjects = append(subjects, plural("variable", len(e.variables))+" "+strings.Join(e.variables, ", "))
	}
	if len(e.arguments) > 0 {
		subjects = append(subjects, plural("argument", len(e.arguments))+" "+strings.Join(e.arguments, ", "))
	}
	if len(e.files) > 0 {
		subjects = append(subjects, plural("file", len(e.files))+" "+strings.Join(e.files, ", "))
	}
	s := strings.Join(subjects, " and ")
	if e.path != "" {
		s += fmt.Sprintf(": vault path %q", e.path)
	}
	return s + ": " + e.err.Error()
}

func (e *refError) Unwrap() error { return e.err }

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
