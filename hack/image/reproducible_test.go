package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/vault-injector/vault-injector/internal/buildinfo"
	"github.com/vault-injector/vault-injector/internal/image"
)

// reproEpoch and reproVersion are what a release passes to make: the commit's time and the
// tag. Both builds get the same ones; everything else about them differs.
const (
	reproEpoch   = "1767225600"
	reproVersion = "v0.0.0-repro"
	reproCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// TestReproducible builds both binaries and the image twice with `make image`, as a
// release does, from two copies of the source in different folders, with different
// environments, and checks that the binaries, every file of the OCI layout and the digest
// are the same. The second build gets a hostile environment: GOFLAGS that would stamp
// another version, a higher GOAMD64, a `go env -w` file with build tags, another HOME, time
// zone, locale and umask. A third assembly runs the image tool as another user (nobody).
// Both builds share the Go build cache, which Go keys by the inputs of each step; the
// README's check covers a cold cache.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	copyDir := filepath.Join(base, "elsewhere", "a", "longer", "path", "src")
	copyTree(t, root, copyDir)
	gocache, gomodcache := goEnv(t, "GOCACHE"), goEnv(t, "GOMODCACHE")

	outA := filepath.Join(base, "out-a")
	makeImage(t, root, outA, []string{"TZ=UTC", "LC_ALL=C"}, "")

	home := filepath.Join(base, "home")
	goenv := filepath.Join(base, "goenv")
	if err := os.WriteFile(goenv, []byte("GOFLAGS=-tags=repro_probe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outB := filepath.Join(base, "out-b", "deeper")
	makeImage(t, copyDir, outB, []string{
		"HOME=" + home, "GOCACHE=" + gocache, "GOMODCACHE=" + gomodcache, "GOENV=" + goenv,
		"TZ=Pacific/Chatham", "LC_ALL=C.UTF-8", "GOAMD64=v2", "GOEXPERIMENT=",
		"GOFLAGS=-ldflags=-X=github.com/vault-injector/vault-injector/internal/buildinfo.version=evil -tags=repro_probe",
	}, "umask 077; ")

	for _, bin := range image.Binaries {
		a, b := readFile(t, filepath.Join(outA, "linux_amd64", bin)), readFile(t, filepath.Join(outB, "linux_amd64", bin))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the two builds (%d and %d bytes)", bin, len(a), len(b))
		}
		checkBuildID(t, filepath.Join(outA, "linux_amd64", bin))
		if bytes.Contains(a, []byte(root)) || bytes.Contains(a, []byte("evil")) {
			t.Errorf("%s holds the source folder or the hostile GOFLAGS' version", bin)
		}
		checkVersion(t, filepath.Join(outA, "linux_amd64", bin))
	}
	layoutA, layoutB := treeFiles(t, filepath.Join(outA, "image")), treeFiles(t, filepath.Join(outB, "image"))
	if len(layoutA) < 5 || !equalTrees(t, layoutA, layoutB) {
		t.Errorf("the OCI layouts differ or are incomplete: %d and %d files", len(layoutA), len(layoutB))
	}
	digest := layoutDigest(t, filepath.Join(outA, "image"))
	if d := assembleAsNobody(t, filepath.Join(outB, "linux_amd64")); d != digest {
		t.Errorf("assembled as another user the image is %s, make built %s", d, digest)
	}
}

// makeImage runs `make image` in dir with its output in out and extra appended to this
// process's environment; prefix is shell run before make (a umask).
func makeImage(t *testing.T, dir, out string, extra []string, prefix string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", "-c", prefix+`exec make image BIN="$1" VERSION=`+reproVersion+
		` COMMIT=`+reproCommit+` SOURCE_DATE_EPOCH=`+reproEpoch, "make", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extra...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image in %s: %v\n%s", dir, err, b)
	}
}

// checkVersion runs `BIN version --json` and checks it names what make stamped and what
// Go recorded: the version, the commit, the toolchain and the same modules as `go version -m`.
func checkVersion(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("%s version --json printed %q: %v", bin, out, err)
	}
	if info.Version != reproVersion || info.Commit != reproCommit || info.GoVersion != goEnv(t, "GOVERSION") || info.Platform != "linux/amd64" {
		t.Errorf("%s version: %+v, want %s, %s, this Go", bin, info, reproVersion, reproCommit)
	}
	gov, err := exec.CommandContext(t.Context(), "go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	var deps []string
	for line := range strings.Lines(string(gov)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "dep" {
			deps = append(deps, f[1]+"@"+f[2])
		}
	}
	var got []string
	for _, m := range info.Modules {
		got = append(got, m.Path+"@"+m.Version)
	}
	if len(deps) == 0 || strings.Join(got, " ") != strings.Join(deps, " ") {
		t.Errorf("%s version lists modules %v, go version -m %v", bin, got, deps)
	}
}

// copyTree copies the files git knows of (tracked, or new and not ignored) from src to dst
// with their modes: the source a release archive or a second clone holds.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for name := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
		info, err := os.Lstat(filepath.Join(src, name))
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink the build does not read
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		data := readFile(t, filepath.Join(src, name))
		if err := os.WriteFile(filepath.Join(dst, name), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "env", key).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("go env %s: %q, %v", key, out, err)
	}
	return string(bytes.TrimSpace(out))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkBuildID fails unless the binary's Go build ID is empty: a build ID derives from
// the build's inputs as the local toolchain hashes them, and nothing else needs it.
func checkBuildID(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "tool", "buildid", bin).Output()
	if err != nil {
		t.Fatalf("go tool buildid %s: %v", bin, err)
	}
	if id := strings.TrimSpace(string(out)); id != "" {
		t.Errorf("%s has build ID %q, want none", bin, id)
	}
}

// treeFiles maps each file below dir (slash-separated, relative) to its mode and bytes.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func equalTrees(t *testing.T, a, b map[string]string) bool {
	t.Helper()
	same := len(a) == len(b)
	for name, data := range a {
		if other, ok := b[name]; !ok || other != data {
			t.Errorf("layout file %s differs or is missing", name)
			same = false
		}
	}
	return same
}

// layoutDigest is the digest of the only image of an OCI layout.
func layoutDigest(t *testing.T, dir string) string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("layout %s: %v, %d images", dir, err, len(m.Manifests))
	}
	return m.Manifests[0].Digest.String()
}

// assembleAsNobody builds the image tool, then runs it as uid/gid 65534 on copies of the
// binaries in a folder only that user can write (t.TempDir's, opened to others), and returns the digest it prints. Skipped
// unless the test runs as root.
func assembleAsNobody(t *testing.T, bins string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running the image tool as another user needs root")
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "image")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./hack/image: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	for _, bin := range image.Binaries {
		if err := os.MkdirAll(work, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, bin), readFile(t, filepath.Join(bins, bin)), 0o500); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Dir(dir), dir, tool} { // the test's folders are 0700
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.WalkDir(work, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), tool, "-bin-dir", work, "-version", reproVersion, "-oci-layout", filepath.Join(work, "image"))
	cmd.Env = []string{"SOURCE_DATE_EPOCH=" + reproEpoch, "TZ=Asia/Kathmandu", "HOME=" + work}
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Run(); err != nil {
		t.Fatalf("image tool as nobody: %v\n%s", err, out.String())
	}
	digest := field(t, out.String(), "digest")
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("image tool printed digest %q", digest)
	}
	return digest
}
