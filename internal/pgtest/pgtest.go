// Package pgtest starts a real PostgreSQL server (Debian's packages, installed by
// hack/tools/node-packages.sh) on loopback for tests: Vault's database engine issues
// leased credentials against it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// nobody runs the server: PostgreSQL refuses to run as root.
const nobody = "65534"

// Server is a running PostgreSQL whose superuser "postgres" logs in without a password
// from loopback only.
type Server struct {
	// Host and Port are where it listens (127.0.0.1).
	Host string
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// BinDir finds Debian's PostgreSQL binaries, or says how to install them.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", errors.New("PostgreSQL is not installed: run hack/tools/node-packages.sh (Debian's postgresql)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// Start initialises a fresh cluster in a temporary directory and starts it on a free
// loopback port; Stop ends it and removes everything.
func Start(ctx context.Context) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	port, err := loopback.FreePort(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Port: port, dir: dir, done: make(chan error, 1)}
	if err := s.start(ctx, bin); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, bin string) error {
	data := filepath.Join(s.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(s.dir, 0o755); err != nil { //nolint:gosec // nobody must reach data/
		return err
	}
	uid, _ := strconv.Atoi(nobody)
	if err := os.Chown(data, uid, uid); err != nil {
		return err
	}
	asNobody := func(name string, args ...string) *exec.Cmd {
		//nolint:gosec // the binary directory is Debian's, found by BinDir
		return exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=" + nobody, "--regid=" + nobody, "--clear-groups", filepath.Join(bin, name)}, args...)...)
	}
	if out, err := asNobody("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	//nolint:gosec // the binary directory is Debian's, found by BinDir
	s.cmd = exec.Command("setpriv", "--reuid="+nobody, "--regid="+nobody, "--clear-groups", //nolint:noctx // outlives ctx, ended by Stop
		filepath.Join(bin, "postgres"), "-D", data, "-h", s.Host, "-p", strconv.Itoa(s.Port), "-k", data, "-c", "fsync=off")
	log, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	return s.waitReady(ctx, bin)
}

// waitReady polls with pg_isready until the server accepts connections: an open port is
// not enough, it refuses them while it starts up.
func (s *Server) waitReady(ctx context.Context, bin string) error {
	for {
		//nolint:gosec // the binary directory is Debian's, found by BinDir
		ready := exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"), "-q", "-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", "postgres")
		if ready.Run() == nil {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited: %w: %s", err, b)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is a connection URL for Vault's database engine (the superuser, over loopback).
func (s *Server) URL() string {
	return fmt.Sprintf("postgresql://postgres@%s:%d/postgres?sslmode=disable", s.Host, s.Port)
}

// Stop ends the server (a fast shutdown) and removes its directory.
func (s *Server) Stop() error {
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		err = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case werr := <-s.done:
			err = errors.Join(err, werr)
		case <-time.After(10 * time.Second):
			err = errors.Join(err, s.cmd.Process.Kill(), errors.New("postgres did not stop on SIGINT"))
			<-s.done //nolint:errcheck // killed: the error says so already
		}
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}
