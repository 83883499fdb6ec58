//go:build e2e

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/syncbuf"
)

// TestKeepPrintsCommandsThatWork runs `make run ARGS=--keep` as a user would: it waits
// for the printed commands, runs them verbatim in bash (kubectl apply of the example pod,
// wait, logs), checks that the example's application got the demo's secret, then stops
// the demo as Ctrl-C does and checks that nothing of the cluster is left on the machine.
func TestKeepPrintsCommandsThatWork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the demo runs a node: containerd, a kubelet and a bridge need root")
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--keep"}, &stdout, &stderr) }()

	block := awaitCommands(t, &stdout, &stderr, done)
	expected := regexp.MustCompile(`# expected: (\d+) bytes, sha256 ([0-9a-f]{16})`).FindStringSubmatch(stdout.String())
	if expected == nil {
		t.Fatalf("the demo printed no expected length and hash:\n%s", stdout.String())
	}
	kubeconfig := regexp.MustCompile(`(?m)^export KUBECONFIG=(\S+)$`).FindStringSubmatch(block)
	if kubeconfig == nil {
		t.Fatalf("no KUBECONFIG in the printed commands:\n%s", block)
	}
	stackDir := stackFolder(t, kubeconfig[1])
	node := nodeOf(t, stackDir)

	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the printed commands failed: %v\n%s\n# demo's log:\n%s", err, out, stderr.String())
	}
	t.Logf("the printed commands:\n%s\n# their output:\n%s", block, out)
	for _, want := range []string{
		"pod/example created",
		"pod/example condition met",
		"DB_PASSWORD has " + expected[1] + " bytes, sha256 " + expected[2],
		"[pod/", // the webhook replicas' logs, from kubectl logs -l … --prefix
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the printed commands' output lacks %q", want)
		}
	}

	stop() // Ctrl-C
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the demo ended with an error after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the demo did not stop within 3 minutes of Ctrl-C:\n%s", stderr.String())
	}
	assertNothingLeft(t, stackDir, node)
}

// awaitCommands waits for the block of commands the demo prints once it serves kubectl.
func awaitCommands(t *testing.T, stdout, stderr *syncbuf.Buffer, done <-chan error) string {
	t.Helper()
	const start = "# Everything keeps running"
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, block, ok := strings.Cut(stdout.String(), start); ok && strings.Contains(block, "--prefix\n") {
			return start + block
		}
		select {
		case err := <-done:
			t.Fatalf("the demo ended before printing its commands (%v):\n%s\n%s", err, stdout.String(), stderr.String())
		case <-t.Context().Done():
			t.Fatalf("no commands printed before the test's deadline:\n%s", stderr.String())
		case <-tick.C:
		}
	}
}

// stackFolder is the demo's work folder, /tmp/vi-demo-…, that the kubeconfig is in.
func stackFolder(t *testing.T, kubeconfig string) string {
	t.Helper()
	parts := strings.SplitN(strings.TrimPrefix(kubeconfig, "/tmp/"), "/", 2)
	if !strings.HasPrefix(kubeconfig, "/tmp/vi-demo-") || len(parts) != 2 {
		t.Fatalf("KUBECONFIG %s is not in the demo's folder /tmp/vi-demo-…", kubeconfig)
	}
	return filepath.Join("/tmp", parts[0])
}

// nodeOf finds the record of the demo's node while it runs.
func nodeOf(t *testing.T, stackDir string) framework.NodeRecord {
	t.Helper()
	records, err := framework.NodeRecords()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if strings.HasPrefix(r.Dir, stackDir+"/") {
			return r
		}
	}
	t.Fatalf("no node record in %s for the demo's folder %s", framework.NodeStateDir, stackDir)
	return framework.NodeRecord{}
}

// assertNothingLeft checks what the issue asks of a stop: no processes, shims, mounts,
// bridge, iptables chain, cgroups, folder or record of the node left behind, and nothing
// of the demo's folder (its Vault, registry and control plane).
func assertNothingLeft(t *testing.T, stackDir string, n framework.NodeRecord) {
	t.Helper()
	for _, left := range n.Leftovers() {
		t.Errorf("left after Ctrl-C: %s", left)
	}
	if _, err := os.Stat(stackDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo's folder %s is left after Ctrl-C (stat: %v)", stackDir, err)
	}
	for _, user := range framework.UsersOf(stackDir) {
		t.Errorf("left after Ctrl-C: %s", user)
	}
}
