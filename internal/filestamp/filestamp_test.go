package filestamp_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/filestamp"
)

// TestOfChangesWithTheFiles: the stamp stays while the files stay, and changes when one
// is rewritten (even to the same size), replaced, removed or created.
func TestOfChangesWithTheFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write := func(path, content string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	write(a, "one", base)
	stamps := map[string]bool{}
	seen := func(what string) {
		t.Helper()
		s := filestamp.Of(a, b)
		if s != filestamp.Of(a, b) {
			t.Fatalf("%s: the stamp changed with no change to the files", what)
		}
		if stamps[s] {
			t.Errorf("%s: stamp %q was seen before", what, s)
		}
		stamps[s] = true
	}
	seen("b missing")
	write(b, "two", base)
	seen("b created")
	write(b, "six", base.Add(time.Second))
	seen("b rewritten, same size")
	write(a, "longer", base)
	seen("a rewritten, same time")
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	seen("a removed")
}
