// Package vaultdev runs a real `vault server -dev` for tests, the e2e suite and demos:
// in memory, on a free loopback port, with a random root token, and with no access to
// the caller's VAULT_* environment or ~/.vault-token.
//
// Outside tests use FindBinary, StartContext and Server.Stop; in tests use Start, which
// does all three and stops the server in t.Cleanup.
package vaultdev

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// Server is a running dev-mode Vault. Its storage is in memory and dies with it.
type Server struct {
	// Addr is the base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
	Addr string
	// RootToken is the dev server's root token, random per server.
	RootToken string
	// CAFile is the PEM file of the CA that signed the server's certificate, with
	// Options.TLS; empty otherwise.
	CAFile string

	cmd      *exec.Cmd
	home     string
	exited   chan struct{}
	waitErr  error // set before exited is closed
	output   *tailWriter
	http     *http.Client
	stopOnce sync.Once
	stopErr  error
}

// Options change how the dev server runs; the zero value is plain HTTP.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 from a CA Vault generates
	// (-dev-tls); Server.CAFile is that CA, for testing clients' TLS settings.
	TLS bool
	// SANs are more names (DNS names or IP addresses) the TLS certificate covers, for
	// clients that reach the server through a forwarder at another address.
	SANs []string
}

// StartContext starts binary in dev mode and returns once /v1/sys/health answers 200.
// ctx bounds the start-up only: the server runs until Stop. Its output goes to log
// (nil discards it). A port taken between choosing and binding is retried.
func StartContext(ctx context.Context, binary string, log io.Writer) (*Server, error) {
	return StartContextWith(ctx, binary, log, Options{})
}

// StartContextWith is StartContext with options.
func StartContextWith(ctx context.Context, binary string, log io.Writer, opts Options) (*Server, error) {
	if log == nil {
		log = io.Discard
	}
	noStore, err := supportsNoStoreToken(ctx, binary)
	if err != nil {
		return nil, err
	}
	plugins, err := pluginDir(binary)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, binary, log, noStore, plugins, opts)
		if err == nil || attempt == 3 || !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
}

var errPortTaken = errors.New("port already in use")

// supportsNoStoreToken checks `vault server -h` for -dev-no-store-token, which keeps the
// dev server from writing ~/.vault-token (older versions lack it; HOME is private anyway).
func supportsNoStoreToken(ctx context.Context, binary string) (bool, error) {
	out, err := exec.CommandContext(ctx, binary, "server", "-h").CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return false, fmt.Errorf("running %s server -h: %w", binary, err)
	}
	return bytes.Contains(out, []byte("-dev-no-store-token")), nil
}

// start runs one server; plugins is the folder of external plugins to register, or "".
func start(ctx context.Context, binary string, log io.Writer, noStore bool, plugins string, opts Options) (*Server, error) {
	port, err := loopback.FreePort(ctx)
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "vaultdev-home-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:      "http://127.0.0.1:" + strconv.Itoa(port),
		RootToken: "root-" + rand.Text(),
		home:      home,
		exited:    make(chan struct{}),
		output:    &tailWriter{w: log, max: 16 << 10},
		http:      &http.Client{Timeout: 30 * time.Second},
	}
	args := []string{
		"server", "-dev", "-dev-root-token-id=" + s.RootToken,
		"-dev-listen-address=127.0.0.1:" + strconv.Itoa(port),
	}
	if noStore {
		args = append(args, "-dev-no-store-token")
	}
	if plugins != "" {
		args = append(args, "-dev-plugin-dir="+plugins)
	}
	if opts.TLS {
		s.Addr = "https://127.0.0.1:" + strconv.Itoa(port)
		s.CAFile = filepath.Join(home, "vault-ca.pem")
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+home, "-dev-tls-san=127.0.0.1")
		for _, san := range opts.SANs {
			args = append(args, "-dev-tls-san="+san)
		}
	}
	// Not CommandContext: ctx bounds the start-up only, and the server runs until Stop.
	s.cmd = exec.Command(binary, args...) //nolint:noctx // binary is the caller's vault
	s.cmd.Env = append(withoutVault(os.Environ()), "HOME="+home)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("starting %s: %w", binary, err), os.RemoveAll(home))
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitHealthy(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if plugins != "" {
		if err := s.registerPlugins(ctx, plugins); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

func (s *Server) waitHealthy(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.healthy(ctx) {
			return nil
		}
		select {
		case <-s.exited:
			tail := s.output.String()
			if strings.Contains(tail, "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("vault exited during start-up (%w); output ends with:\n%s", s.waitErr, tail)
		case <-ctx.Done():
			return fmt.Errorf("vault not healthy at %s: %w; output ends with:\n%s", s.Addr, ctx.Err(), s.output.String())
		case <-tick.C:
		}
	}
}

func (s *Server) healthy(ctx context.Context) bool {
	if s.CAFile != "" && s.http.Transport == nil && !s.trustCA() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/v1/sys/health", nil)
	if err != nil {
		return false
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// trustCA makes s.http trust the dev CA once Vault has written it.
func (s *Server) trustCA() bool {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return false
	}
	s.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return true
}

// Stop ends the server (SIGTERM, then SIGKILL after 10s) and removes its HOME. It is
// safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		err := s.cmd.Process.Signal(syscall.SIGTERM)
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = err
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.stopErr = errors.Join(s.stopErr, err)
			}
			<-s.exited
		}
		s.stopErr = errors.Join(s.stopErr, os.RemoveAll(s.home))
	})
	return s.stopErr
}

// Request does a JSON request with the root token; path is relative to /v1/ (e.g.
// "sys/mounts/kv1"). It returns the decoded body (nil when empty, as for 204), and an
// error naming Vault's messages for any non-2xx answer.
func (s *Server) Request(ctx context.Context, method, path string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.Addr+"/v1/"+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Vault-Token", s.RootToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return out, nil
}

// withoutVault drops VAULT_* so the caller's own Vault settings cannot leak in.
func withoutVault(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return out
}

// tailWriter forwards to w and keeps the last max bytes for error messages.
type tailWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	max int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return t.w.Write(p)
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
