// Command testapp is the only program in the e2e node's test images: the sandbox ("pause")
// container, and the application that envexec starts. A real node runs images, not the
// host's files, so every tool a spec uses inside a container is a subcommand here:
//
//	testapp now               print the wall clock in Unix nanoseconds and exit: a pod start
//	                          benchmark's end mark (bench/cmd/podstart)
//	testapp hash VAR          print VAR's length and the first 16 hex digits of its SHA-256,
//	                          and exit: the demo's application (hack/demo)
//	testapp wait              print "ready pid=N uid=N" and block until SIGTERM or SIGINT
//	testapp env               print the environment, one NAME=value a line
//	testapp cat FILE          print a file
//	testapp ls DIR            print the names in DIR, one a line, sorted
//	testapp write FILE TEXT   write TEXT to FILE, then wait (a read-only root makes it fail)
//	testapp has VAR SHA256    print "match" or "mismatch" for the SHA-256 of $VAR, then wait,
//	                          so a spec proves the value arrived without it being printed
//	testapp envfile FILE      write the environment to FILE, NUL-separated (values may hold
//	                          newlines) and renamed into place, then wait: a spec reads it
//	                          with kubectl exec, and nothing of it is printed
//	testapp daemon VAR SHA256 as has, plus the parent's PID, and touch /tmp/ready for exec
//	                          probes; on SIGTERM print "term" and exit 42, so the container's
//	                          exit code is known to be the application's
//	testapp signal PID SIG    send signal SIG (TERM, INT, HUP) to PID and exit
//	testapp argv FILE ARG...  write the ARGs to FILE, one a line, renamed into place, then
//	                          wait: the command line envexec handed over, unprinted
//	testapp check VAR SHA256  exit 0 when $VAR's SHA-256 is SHA256, else 1: an exec probe that
//	                          passes only with the secret
//	testapp stat FILE...      print "FILE MODE UID" a line, MODE in octal (stat -c '%n %a %u')
//	testapp hup FILE OUT      at each SIGHUP write FILE's SHA-256 (sha256sum's line) to OUT,
//	                          renamed into place, and keep waiting: a rotated file's reader
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

// command is one subcommand and how many arguments it takes (at least, when negative:
// -1 is one or more).
type command struct {
	args int
	run  func(args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"now": {0, func(_ []string, stdout io.Writer) error {
		_, err := fmt.Fprintln(stdout, time.Now().UnixNano())
		return err
	}},
	"hash": {1, func(args []string, stdout io.Writer) error {
		v := os.Getenv(args[0])
		sum := sha256.Sum256([]byte(v))
		_, err := fmt.Fprintf(stdout, "hello from PID %d: %s has %d bytes, sha256 %s\n", os.Getpid(), args[0], len(v), hex.EncodeToString(sum[:])[:16])
		return err
	}},
	"wait": {0, func(_ []string, stdout io.Writer) error { return wait(stdout) }},
	"env": {0, func(_ []string, stdout io.Writer) error {
		for _, kv := range os.Environ() {
			fmt.Fprintln(stdout, kv)
		}
		return nil
	}},
	"cat": {1, func(args []string, stdout io.Writer) error {
		data, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}},
	"ls": {1, func(args []string, stdout io.Writer) error {
		entries, err := os.ReadDir(args[0])
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintln(stdout, e.Name())
		}
		return nil
	}},
	"write": {2, func(args []string, stdout io.Writer) error {
		if err := os.WriteFile(args[0], []byte(args[1]), 0o600); err != nil {
			return err
		}
		return wait(stdout)
	}},
	"has": {2, func(args []string, stdout io.Writer) error {
		fmt.Fprintln(stdout, match(args[0], args[1]))
		return wait(stdout)
	}},
	"envfile": {1, func(args []string, stdout io.Writer) error {
		var b []byte
		for _, kv := range os.Environ() {
			b = append(append(b, kv...), 0)
		}
		return writeAndWait(args[0], b, stdout)
	}},
	"daemon": {2, func(args []string, stdout io.Writer) error {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		fmt.Fprintln(stdout, match(args[0], args[1]))
		if err := os.WriteFile("/tmp/ready", []byte("ready\n"), 0o644); err != nil { //nolint:gosec // read by probes
			return err
		}
		fmt.Fprintf(stdout, "%s ppid=%d\n", readyLine(), os.Getppid())
		<-stop
		fmt.Fprintln(stdout, "term")
		os.Exit(42)
		return nil
	}},
	"argv": {-1, func(args []string, stdout io.Writer) error {
		var b []byte
		for _, a := range args[1:] {
			b = append(append(b, a...), '\n')
		}
		return writeAndWait(args[0], b, stdout)
	}},
	"check": {2, func(args []string, _ io.Writer) error {
		if match(args[0], args[1]) != "match" {
			return fmt.Errorf("%s: mismatch", args[0])
		}
		return nil
	}},
	"stat": {-1, func(args []string, stdout io.Writer) error {
		for _, name := range args {
			fi, err := os.Stat(name)
			if err != nil {
				return err
			}
			uid := -1
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				uid = int(st.Uid)
			}
			fmt.Fprintf(stdout, "%s %o %d\n", name, fi.Mode().Perm(), uid)
		}
		return nil
	}},
	"statx": {-1, func(args []string, stdout io.Writer) error {
		// The mode with its setuid, setgid and sticky bits, the owner and the group.
		for _, name := range args {
			var st syscall.Stat_t
			if err := syscall.Stat(name, &st); err != nil {
				return fmt.Errorf("stat %s: %w", name, err)
			}
			fmt.Fprintf(stdout, "%s %04o %d %d\n", name, st.Mode&0o7777, st.Uid, st.Gid)
		}
		return nil
	}},
	"hup": {2, func(args []string, stdout io.Writer) error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		fmt.Fprintln(stdout, readyLine())
		for {
			select {
			case <-stop:
				return nil
			case <-hup:
				data, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				line := fmt.Sprintf("%x  %s\n", sha256.Sum256(data), args[0])
				if err := writeAtomically(args[1], []byte(line)); err != nil {
					return err
				}
			}
		}
	}},
	"signal": {2, func(args []string, _ io.Writer) error {
		pid, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		sig, ok := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}[args[1]]
		if !ok {
			return fmt.Errorf("signal %q: want TERM, INT or HUP", args[1])
		}
		return syscall.Kill(pid, sig)
	}},
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return wait(stdout)
	}
	c, ok := commands[args[0]]
	if n := len(args) - 1; !ok || (c.args >= 0 && n != c.args) || (c.args < 0 && n < -c.args) {
		return fmt.Errorf("usage: testapp [now | hash VAR | wait | env | cat FILE | write FILE TEXT | has VAR SHA256 | envfile FILE | daemon VAR SHA256 | signal PID SIG | argv FILE ARG... | check VAR SHA256 | stat FILE... | hup FILE OUT], not %q", args)
	}
	return c.run(args[1:], stdout)
}

// writeAndWait writes data to file (writeAtomically), then waits.
func writeAndWait(file string, data []byte, stdout io.Writer) error {
	if err := writeAtomically(file, data); err != nil {
		return err
	}
	return wait(stdout)
}

// writeAtomically writes data to file by renaming it into place, so a reader never sees
// half of it.
func writeAtomically(file string, data []byte) error {
	if err := os.WriteFile(file+".tmp", data, 0o600); err != nil { //nolint:gosec // the spec names the file
		return err
	}
	return os.Rename(file+".tmp", file) //nolint:gosec // the spec names the file
}

// match is "match" when $name's SHA-256 is want in hex, else "mismatch".
func match(name, want string) string {
	sum := sha256.Sum256([]byte(os.Getenv(name)))
	if hex.EncodeToString(sum[:]) == want {
		return "match"
	}
	return "mismatch"
}

// readyLine is how the app says it is up: the specs wait for it and read PID and UID.
func readyLine() string { return fmt.Sprintf("ready pid=%d uid=%d", os.Getpid(), os.Getuid()) }

// wait says it is up, then blocks until the kubelet stops the container.
func wait(stdout io.Writer) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintln(stdout, readyLine())
	<-stop
	return nil
}
