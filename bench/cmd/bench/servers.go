package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/bench/report"
	"github.com/vault-injector/vault-injector/bench/server"
	"github.com/vault-injector/vault-injector/internal/loopback"
)

// startOurs runs vault-injector as a Deployment would, on loopback ports, with metrics on.
func startOurs(ctx context.Context, o *options, bin string, roots *x509.CertPool) (*target, error) {
	addrs, err := loopback.FreeAddrs(ctx, 3)
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(addrs[0], ":")
	args := []string{
		"--webhook-host=" + host, "--webhook-port=" + port, "--cert-dir=" + filepath.Join(o.workDir, "certs"),
		"--metrics-bind-address=" + addrs[1], "--health-probe-bind-address=" + addrs[2],
		"--injector-image=registry.example/vault-injector:bench", "--vault-addr=https://vault.example:8200",
	}
	return startTarget(ctx, o, "vault-injector", bin, args, o.injectorEnv, addrs[0], addrs[2], roots)
}

// startFloor runs the floor server, answering with the webhook's own patch.
func startFloor(ctx context.Context, o *options, bin string, roots *x509.CertPool, patchFile string) (*target, error) {
	addrs, err := loopback.FreeAddrs(ctx, 2)
	if err != nil {
		return nil, err
	}
	args := []string{"-addr=" + addrs[0], "-cert-dir=" + filepath.Join(o.workDir, "certs"), "-probe-addr=" + addrs[1], "-patch-file=" + patchFile}
	return startTarget(ctx, o, "floor", bin, args, nil, addrs[0], addrs[1], roots)
}

// startTarget runs a server with an environment of its own (HOME in the work directory,
// so no kubeconfig is found and nothing but loopback is ever contacted) and waits for it.
func startTarget(ctx context.Context, o *options, name, bin string, args, extraEnv []string, addr, probeAddr string, roots *x509.CertPool) (*target, error) {
	env := append([]string{"HOME=" + o.workDir}, extraEnv...)
	p, err := server.Start(name, bin, args, env, filepath.Join(o.workDir, name+".log"))
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, "http://"+probeAddr+"/readyz", 30*time.Second); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return &target{proc: p, env: extraEnv, url: "https://" + addr + "/mutate-pods", client: server.HTTP2Client(roots)}, nil
}

// capturePatch asks the webhook once and keeps its patch for the floor to repeat.
func capturePatch(ctx context.Context, t *target, body load.Body, path string) (size, ops int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body.Data)) //nolint:gosec // our own server on loopback
	if err != nil {
		return 0, 0, fmt.Errorf("first request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req) //nolint:gosec // our own server on loopback
	if err != nil {
		return 0, 0, fmt.Errorf("first request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("first response: %w", err)
	}
	patch, err := load.Patch(resp.StatusCode, data, body.UID)
	if err != nil {
		return 0, 0, fmt.Errorf("vault-injector's first answer: %w", err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(patch, &list); err != nil {
		return 0, 0, fmt.Errorf("vault-injector's patch: %w", err)
	}
	if err := os.WriteFile(path, patch, 0o600); err != nil { //nolint:gosec // under our own work directory
		return 0, 0, fmt.Errorf("write patch: %w", err)
	}
	return len(patch), len(list), nil
}

// stop ends a server; a server that had died or would not stop is noted in the report.
func stop(t *target, res *report.Results) {
	t.client.CloseIdleConnections()
	if err := t.proc.Stop(10 * time.Second); err != nil {
		res.Notes = append(res.Notes, err.Error()+"; log tail: "+t.proc.LogTail(500))
	}
}
