package envexec

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/loopback"
	"github.com/vault-injector/vault-injector/internal/syncbuf"
	"github.com/vault-injector/vault-injector/internal/vaultdev"
)

// diskVault is a real Vault that is not in dev mode: integrated (raft) storage on disk,
// one node, initialised with one unseal key. Unlike the dev server it survives a restart (tokens and secrets
// stay) and comes back sealed, as a production Vault does, so "Vault restarted" and
// "Vault sealed" can be tested for real. It trusts the shared fixture's JWT key, so
// fixture.env's tokens log in to it too.
type diskVault struct {
	bin, dir, addr string
	rootToken      string
	unsealKey      string
	http           *http.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output syncbuf.Buffer
}

// startDiskVault starts, initialises, unseals and configures a Vault for this test.
func startDiskVault(t *testing.T, f *fixture) *diskVault {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	bin, err := vaultdev.FindBinary(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	port, err := loopback.FreePort(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clusterPort, err := loopback.FreePort(ctx) // raft talks to its peers there; it has none
	if err != nil {
		t.Fatal(err)
	}
	v := &diskVault{bin: bin, dir: t.TempDir(), addr: "http://127.0.0.1:" + strconv.Itoa(port), http: &http.Client{Timeout: 10 * time.Second}}
	conf := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "vault-0"
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
disable_mlock = true
api_addr      = %q
cluster_addr  = "https://127.0.0.1:%d"
`, filepath.Join(v.dir, "data"), port, clusterPort, v.addr, clusterPort)
	if err := os.Mkdir(filepath.Join(v.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, "vault.hcl"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.stop(t)
		if t.Failed() {
			t.Logf("disk vault output:\n%s", v.log())
		}
	})
	v.start(t)
	var init struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	v.do(t, "", http.MethodPut, "sys/init", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &init)
	if len(init.Keys) != 1 || init.RootToken == "" {
		t.Fatalf("vault init answered %+v", init)
	}
	v.unsealKey, v.rootToken = init.Keys[0], init.RootToken
	v.unseal(t)
	v.configure(t, f)
	return v
}

// configure mounts KV v2 at secret/ and the fixture's jwt login at testAuthPath.
func (v *diskVault) configure(t *testing.T, f *fixture) {
	t.Helper()
	pub, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "sys/mounts/secret", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}},
		{http.MethodPut, "sys/policies/acl/app", map[string]string{"policy": `path "secret/data/*" { capabilities = ["read"] }`}},
		{http.MethodPost, "sys/auth/" + testAuthPath, map[string]string{"type": "jwt"}},
		{http.MethodPost, "auth/" + testAuthPath + "/config", map[string]any{
			"jwt_validation_pubkeys": []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
			"bound_issuer":           testIssuer,
		}},
		{http.MethodPost, "auth/" + testAuthPath + "/role/" + testRole, map[string]any{
			"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
			"policies": []string{"app"}, "token_ttl": "10m",
		}},
	}
	for _, s := range steps {
		v.do(t, v.rootToken, s.method, s.path, s.body, nil)
	}
	// A new KV v2 mount upgrades itself in the background before it takes writes.
	v.awaitStatus(t, func() bool {
		return v.request(t.Context(), v.rootToken, http.MethodGet, "secret/config", nil, nil) == nil
	}, "the kv mount to be ready")
}

// start runs the server and waits until its API answers (sealed or not).
func (v *diskVault) start(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	cmd := exec.Command(v.bin, "server", "-config="+filepath.Join(v.dir, "vault.hcl")) //nolint:noctx // runs until stop
	cmd.Env = []string{"HOME=" + v.dir, "PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &v.output, &v.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		v.mu.Unlock()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	v.cmd, v.exited = cmd, exited
	v.mu.Unlock()
	go func() {
		_ = cmd.Wait() // the exit shows in exited; stop reports a hung process
		close(exited)
	}()
	v.awaitStatus(t, func() bool { return v.health(t) != 0 }, "vault to answer")
}

// stop ends the server with SIGTERM, as an orchestrator's restart does.
func (v *diskVault) stop(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	cmd, exited := v.cmd, v.exited
	v.cmd = nil
	v.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stopping vault: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill() // it ignored SIGTERM; the test fails below anyway
		<-exited
		t.Error("vault did not stop within 15s of SIGTERM")
	}
}

func (v *diskVault) unseal(t *testing.T) {
	t.Helper()
	v.do(t, "", http.MethodPut, "sys/unseal", map[string]string{"key": v.unsealKey}, nil)
	v.awaitStatus(t, func() bool { return v.health(t) == http.StatusOK }, "vault to be active")
}

func (v *diskVault) seal(t *testing.T) {
	t.Helper()
	v.do(t, v.rootToken, http.MethodPut, "sys/seal", nil, nil)
	if code := v.health(t); code != http.StatusServiceUnavailable {
		t.Fatalf("after sys/seal, sys/health answers %d, want 503 (sealed)", code)
	}
}

// health is sys/health's status code (200 active, 503 sealed, 501 not initialised), or
// 0 when Vault does not answer.
func (v *diskVault) health(t *testing.T) int {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, v.addr+"/v1/sys/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode
}

// awaitStatus polls cond until it holds, failing after 30s.
func (v *diskVault) awaitStatus(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; vault output:\n%s", what, v.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do is request for tests: it fails t on any error.
func (v *diskVault) do(t *testing.T, token, method, path string, body, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := v.request(ctx, token, method, path, body, out); err != nil {
		t.Fatal(err)
	}
}

func (v *diskVault) request(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.addr+"/v1/"+path, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (v *diskVault) log() string { return v.output.String() }
