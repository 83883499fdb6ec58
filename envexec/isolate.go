package envexec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// envexec runs inside the tenant's container, with the tenant's environment. Go's runtime
// and standard library read some of it for the process's own use: GODEBUG (http2debug=2
// prints every header and body, login JWT and Vault token included; x509/TLS settings),
// SSL_CERT_FILE and SSL_CERT_DIR (the "system" roots), GOTRACEBACK, GOMAXPROCS, GOGC,
// GOMEMLIMIT. So "--" runs in two stages: the first hands the environment, untouched and
// unread, to the second through a sealed memfd and re-executes the same binary (same PID)
// with an empty environment; the second reads the environment from the memfd and does
// the work. Those variables then act on the application only.

const (
	// environFlag starts the second stage: envexec --environ-fd N -- COMMAND [ARG...]
	// reads the environment from memfd N instead of its own, which must be empty.
	environFlag = "--environ-fd"
	// selfExe is the running binary. Exec'ing it keeps envexec's PID, so PID 1 stays
	// PID 1, and nothing in the container (a replaced file, PATH) can change what runs.
	selfExe = "/proc/self/exe"
	// maxEnviron bounds the memfd the second stage reads; a real environment is far
	// smaller (the kernel caps argv and envp together at a quarter of the stack limit).
	maxEnviron = 64 << 20
)

// errIsolate means envexec could not shed the container's environment; it fails closed
// rather than fetch secrets in a process that environment can steer.
var errIsolate = errors.New("cannot isolate envexec from the container's environment")

// reexec is the first stage: it hands Environ over and becomes the second stage. It
// neither parses nor acts on the environment. It returns only on failure.
func (inv *invocation) reexec(args []string) error {
	fd, err := sealEnviron(inv.Environ)
	if err != nil {
		return fmt.Errorf("%w: handing the environment over: %w", errIsolate, err)
	}
	self := cmp.Or(inv.self, selfExe)
	argv := append([]string{programName(), environFlag, strconv.Itoa(fd)}, args...)
	err = syscall.Exec(self, argv, []string{})
	return fmt.Errorf("%w: re-executing %s with an empty environment: %w", errIsolate, self,
		errors.Join(err, syscall.Close(fd)))
}

// programName is argv[0] for the second stage: the name envexec was started as, so
// `ps` shows the same command line.
func programName() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return os.Args[0]
	}
	return "envexec"
}

// secondStage runs "--" with the environment read from the memfd named in args
// ("N -- COMMAND [ARG...]"). Only where the environment comes from differs from the
// in-process path: anyone who can start envexec this way could as well start it with
// that environment. Its own environment must be empty, so that nothing but the memfd
// reaches the process.
func (inv *invocation) secondStage(ctx context.Context, args []string) error {
	if len(inv.Environ) > 0 {
		return fmt.Errorf("%w: %s is internal to envexec and needs an empty environment (it has %d %s)",
			errIsolate, environFlag, len(inv.Environ), plural("variable", len(inv.Environ)))
	}
	if len(args) < 3 || args[1] != "--" {
		return fmt.Errorf("%w: %s takes a descriptor, then -- COMMAND [ARG...]", errIsolate, environFlag)
	}
	fd, err := strconv.Atoi(args[0])
	if err != nil || fd < 3 {
		return fmt.Errorf("%w: %s %q is not a descriptor above stderr", errIsolate, environFlag, args[0])
	}
	environ, err := readSealedEnviron(fd)
	if err != nil {
		return fmt.Errorf("%w: reading the environment from descriptor %d: %w", errIsolate, fd, err)
	}
	r := *inv.Runner
	r.Environ = environ
	inv.Runner = &r
	return inv.start(ctx, args[2:])
}

// encodeEnviron lays entries out as /proc/PID/environ does: each ends with a NUL, which
// an entry cannot hold.
func encodeEnviron(environ []string) []byte {
	n := 0
	for _, kv := range environ {
		n += len(kv) + 1
	}
	b := make([]byte, 0, n)
	for _, kv := range environ {
		b = append(append(b, kv...), 0)
	}
	return b
}

// decodeEnviron reverses encodeEnviron.
func decodeEnviron(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != 0 {
		return nil, errors.New("the last entry is not NUL-terminated")
	}
	return strings.Split(string(b[:len(b)-1]), "\x00"), nil
}
