package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/internal/runbook"
)

// readmeRegistry is where README.md's "The container image" starts its registry.
const readmeRegistry = "localhost:5000"

// TestREADMEPublishesTheImage runs README.md's "The container image" commands as a reader
// would, in a copy of the source: `make image`, an in-memory registry on localhost:5000 in
// the background, then `make image IMAGE=… INSECURE=1`. The registry must then serve the
// tag with the digest that both builds printed.
func TestREADMEPublishesTheImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image twice")
	}
	if conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(t.Context(), "tcp", readmeRegistry); err == nil {
		_ = conn.Close()
		t.Fatalf("%s is taken: README.md's commands start their registry there", readmeRegistry)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script, err := runbook.Load(filepath.Join(root, "README.md"), "The container image")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	copyTree(t, root, dir)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + filepath.Dir(goBin) + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + dir,
		"GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"), "GOPROXY=" + goEnv(t, "GOPROXY"),
		"GOTOOLCHAIN=local",
		// A copy has no .git: make is given what git would tell it.
		"VERSION=" + reproVersion, "COMMIT=" + reproCommit, "SOURCE_DATE_EPOCH=" + reproEpoch,
	}
	// The registry the script leaves running shares its process group, stopped at the end,
	// and writes to the same file as the script: a file, not a pipe, so Wait returns when
	// the script ends and the registry can still log the requests that follow.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err = cmd.Wait()
	out, readErr := os.ReadFile(log.Name())
	if readErr != nil {
		t.Fatal(readErr)
	}
	if err != nil {
		t.Fatalf("README.md's image commands: %v\n%s", err, out)
	}

	var printed []string // make image's "digest  sha256:…" lines
	for _, m := range regexp.MustCompile(`(?m)^digest\s+(sha256:[0-9a-f]{64})$`).FindAllStringSubmatch(string(out), -1) {
		printed = append(printed, m[1])
	}
	if len(printed) != 2 {
		t.Fatalf("the two make image runs printed %d digests:\n%s", len(printed), out)
	}
	ref, err := name.ParseReference(readmeRegistry+"/vault-injector:dev", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("the registry the README started does not serve the pushed tag: %v\n%s", err, out)
	}
	for _, d := range printed {
		if d != desc.Digest.String() {
			t.Errorf("make image printed %s, the registry serves %s", d, desc.Digest)
		}
	}
}
