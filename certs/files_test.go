package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFiles: the files appear through the ..data link, rewriting the same content is
// a no-op, and a new version replaces the old folder.
func TestWriteFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	v1 := map[string][]byte{"tls.crt": []byte("crt1"), "tls.key": []byte("key1")}
	if changed, err := writeFiles(dir, v1); err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	assertFiles(t, dir, v1)
	if changed, err := writeFiles(dir, v1); err != nil || changed {
		t.Fatalf("same content: changed=%v err=%v", changed, err)
	}
	v2 := map[string][]byte{"tls.crt": []byte("crt2"), "tls.key": []byte("key2")}
	if changed, err := writeFiles(dir, v2); err != nil || !changed {
		t.Fatalf("second write: changed=%v err=%v", changed, err)
	}
	assertFiles(t, dir, v2)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 4 { // ..cert-N, ..data, tls.crt, tls.key
		t.Errorf("folder holds %q, want one version folder, ..data and the two links", names)
	}
	if target, err := os.Readlink(filepath.Join(dir, "tls.key")); err != nil || target != filepath.Join("..data", "tls.key") {
		t.Errorf("tls.key links to %q (%v)", target, err)
	}
}

// TestWriteFilesOverPlainFiles: a folder holding regular files (another writer, an older
// layout) is converted, not refused.
func TestWriteFilesOverPlainFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"tls.crt": []byte("new"), "tls.key": []byte("k")}
	if _, err := writeFiles(dir, want); err != nil {
		t.Fatal(err)
	}
	assertFiles(t, dir, want)
}

func assertFiles(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(content) {
			t.Errorf("%s = %q (%v), want %q", name, got, err, content)
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v (%v), want 0600", name, info.Mode(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tls.crt.tmp")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("temporary link left behind: %v", err)
	}
}
