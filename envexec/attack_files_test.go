package envexec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// TestAttackTempNameDeletesAnotherFile: a pod asks for two files, "x" and ".envexec-tmp-x"
// (both clean paths below files-dir, both admitted by CheckFilePath on either side). Writing
// "x" removes its "leftover temporary file", which is the other secret file, and then
// renames over nothing: envexec reports success and the application misses a file.
func TestAttackTempNameDeletesAnotherFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := filesIn(dir, tmpPrefix+"x", "x")
	for _, f := range files {
		if err := settings.CheckFilePath(dir, f.Path); err != nil {
			t.Fatalf("path refused: %v", err)
		}
	}
	err := writeFiles(dir, files, map[int]string{0: "first " + fileCanary, 1: "second " + fileCanary})
	if err != nil {
		t.Logf("refused (acceptable): %v", err)
		return
	}
	for i, rel := range []string{tmpPrefix + "x", "x"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("file %d (%s) missing after a successful write: %v", i, rel, err)
		}
	}
}

// TestAttackParentAndChildPathsFailAtStart: files "a" and "a/b" in one container pass
// every check both sides share (CheckFilePath, no path named twice), so the webhook admits
// them (config TestAttackParentAndChildPathsAdmitted), and envexec then refuses to start:
// "what the webhook admits is what envexec writes" does not hold.
func TestAttackParentAndChildPathsFailAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := filesIn(dir, "a", "a/b")
	for _, f := range files {
		if err := settings.CheckFilePath(dir, f.Path); err != nil {
			t.Fatalf("path refused by the shared check: %v", err)
		}
	}
	if err := writeFiles(dir, files, map[int]string{0: "x", 1: "y"}); err != nil {
		t.Errorf("admitted files a and a/b, then writing failed: %v", err)
	}
}

// TestAttackFileSizeErrorRevealsSecretLength: a file whose resolved content is too large
// is refused with its exact byte count. The message goes to stderr, which the injector
// makes the termination message (FallbackToLogsOnError), so anyone who can `kubectl
// describe` the pod learns the exact length of a secret it may not read from Vault.
// Template sizes are checked at admission; only the resolved size is secret-derived.
func TestAttackFileSizeErrorRevealsSecretLength(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := strings.Repeat("s", settings.MaxFileSize+12345)
	err := writeFiles(dir, filesIn(dir, "big"), map[int]string{0: secret})
	if err == nil {
		t.Fatal("accepted")
	}
	if strings.Contains(err.Error(), strconv.Itoa(len(secret))) {
		t.Errorf("message holds the resolved secret's length: %v", err)
	}
}
