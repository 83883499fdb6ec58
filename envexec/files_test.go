package envexec

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

const fileCanary = "canary-7f3a-file-value"

func filesIn(dir string, rels ...string) []settings.File {
	out := make([]settings.File, len(rels))
	for i, r := range rels {
		out[i] = settings.File{Path: dir + "/" + r, Mode: settings.DefaultFileMode}
	}
	return out
}

func TestWriteFilesModeContentAndNoLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := filesIn(dir, "tls/tls.crt", "app.conf")
	files[1].Mode = 0o440
	if err := writeFiles(dir, files, map[int]string{0: "CERT " + fileCanary, 1: "password = " + fileCanary}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		content string
		mode    fs.FileMode
	}{{"CERT " + fileCanary, 0o400}, {"password = " + fileCanary, 0o440}} {
		fi, err := os.Lstat(files[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want.mode {
			t.Errorf("%s: mode %v, want %v", files[i].Path, fi.Mode(), want.mode)
		}
		if b, _ := os.ReadFile(files[i].Path); string(b) != want.content {
			t.Errorf("%s: content %q, want %q", files[i].Path, b, want.content)
		}
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "tls")); fi == nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("parent directory not created 0700: %v", fi)
	}
	if left := tempLeftovers(t, dir); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func tempLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error {
		if strings.HasPrefix(filepath.Base(p), tmpPrefix) {
			left = append(left, p)
		}
		return nil
	})
	return left
}

// TestWriteFilesAtomicReplace: a reader holding the old file keeps reading the old
// content whole, and the name shows the new content whole: a rename, never a rewrite in
// place.
func TestWriteFilesAtomicReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := filesIn(dir, "secret")
	if err := writeFiles(dir, files, map[int]string{0: "old-" + fileCanary}); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	before, _ := os.Stat(files[0].Path)
	if err := writeFiles(dir, files, map[int]string{0: "new-" + fileCanary}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(files[0].Path)
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, not replaced by a rename")
	}
	b := make([]byte, 64)
	n, _ := held.Read(b)
	if got := string(b[:n]); got != "old-"+fileCanary {
		t.Errorf("the open file reads %q, want the old content whole", got)
	}
	if got, _ := os.ReadFile(files[0].Path); string(got) != "new-"+fileCanary {
		t.Errorf("the path reads %q, want the new content", got)
	}
}

// TestWriteFilesAllOrNothing: a rotation that cannot write one of the files (here a
// directory planted where the key goes) leaves every file as it was, not a new
// certificate beside its old key, and no temporary file behind.
func TestWriteFilesAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := filesIn(dir, "tls.crt", "tls/tls.key", "app.conf")
	if err := writeFiles(dir, files, map[int]string{0: "old cert", 1: "old key", 2: "old conf"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(files[1].Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(files[1].Path, 0o700); err != nil {
		t.Fatal(err)
	}
	err := writeFiles(dir, files, map[int]string{0: "new cert", 1: "new key", 2: "new conf"})
	if !errors.Is(err, errFiles) || !strings.Contains(err.Error(), "tls/tls.key") {
		t.Fatalf("err = %v, want the key named", err)
	}
	for i, want := range map[int]string{0: "old cert", 2: "old conf"} {
		if b, _ := os.ReadFile(files[i].Path); string(b) != want {
			t.Errorf("%s: %q after a failed rotation, want %q", files[i].Path, b, want)
		}
	}
	if left := tempLeftovers(t, dir); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestWriteFilesRefusesWhatIsPlanted: the volume is writable by the container, so
// anything may be waiting there. Nothing is followed out of the volume, replaced or
// written through.
func TestWriteFilesRefusesWhatIsPlanted(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		rel   string
		plant func(t *testing.T, dir, outside string)
		want  string
	}{
		"symlink at the file": {
			rel: "tls.key",
			plant: func(t *testing.T, dir, outside string) {
				symlink(t, filepath.Join(outside, "target"), filepath.Join(dir, "tls.key"))
			},
			want: "refusing to replace a symlink",
		},
		"symlink as a parent directory": {
			rel:   "conf/app.conf",
			plant: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "conf")) },
			want:  "refusing a symlink where directory conf should be",
		},
		"directory at the file": {
			rel: "app.conf",
			plant: func(t *testing.T, dir, _ string) {
				if err := os.Mkdir(filepath.Join(dir, "app.conf"), 0o700); err != nil {
					t.Fatal(err)
				}
			},
			want: "refusing to replace a directory",
		},
		"relative symlink climbing out": {
			rel:   "deep/x",
			plant: func(t *testing.T, dir, _ string) { symlink(t, "../..", filepath.Join(dir, "deep")) },
			want:  "refusing a symlink",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, outside := t.TempDir(), t.TempDir()
			target := filepath.Join(outside, "target")
			if err := os.WriteFile(target, []byte("untouched"), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.plant(t, dir, outside)
			err := writeFiles(dir, filesIn(dir, tt.rel), map[int]string{0: fileCanary})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errFiles) {
				t.Fatalf("err = %v, want %q (errFiles)", err, tt.want)
			}
			if exitCode(err) != ExitFiles {
				t.Errorf("exit code %d, want %d", exitCode(err), ExitFiles)
			}
			if strings.Contains(err.Error(), fileCanary) {
				t.Errorf("the error quotes the content: %v", err)
			}
			if b, _ := os.ReadFile(target); string(b) != "untouched" {
				t.Errorf("the file outside the volume was changed: %q", b)
			}
			entries, _ := os.ReadDir(outside)
			if len(entries) != 1 {
				t.Errorf("something was written outside the volume: %v", entries)
			}
		})
	}
}

// TestWriteFilesLeftoverTempIsRemovedNotFollowed: a symlink planted under the temporary
// name is removed, and the write goes to a fresh file.
func TestWriteFilesLeftoverTempIsRemovedNotFollowed(t *testing.T) {
	t.Parallel()
	dir, outside := t.TempDir(), t.TempDir()
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, target, filepath.Join(dir, tmpPrefix+"app.conf"))
	if err := writeFiles(dir, filesIn(dir, "app.conf"), map[int]string{0: fileCanary}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "untouched" {
		t.Errorf("written through the planted symlink: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app.conf")); string(b) != fileCanary {
		t.Errorf("file reads %q", b)
	}
}

func TestWriteFilesPathsOutsideTheVolume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{dir + "/../escape", "/etc/passwd", dir, dir + "/a/../../escape"} {
		err := writeFiles(dir, []settings.File{{Path: p, Mode: 0o400}}, map[int]string{0: fileCanary})
		if err == nil || !errors.Is(err, errFiles) || !strings.Contains(err.Error(), "is not below") {
			t.Errorf("%s: err = %v, want it refused as not below the directory", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Error("a file was written next to the volume")
	}
}

func TestWriteFilesSizeLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := strings.Repeat("x", settings.MaxFileSize+1)
	err := writeFiles(dir, filesIn(dir, "big"), map[int]string{0: big})
	if err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") || exitCode(err) != ExitSecret {
		t.Errorf("one file too big: err = %v", err)
	}
	n := maxFilesTotal/settings.MaxFileSize + 1
	rels := make([]string, n)
	contents := map[int]string{}
	for i := range rels {
		rels[i] = "f" + strings.Repeat("x", i)
		contents[i] = strings.Repeat("y", settings.MaxFileSize)
	}
	if err := writeFiles(dir, filesIn(dir, rels...), contents); err == nil || !strings.Contains(err.Error(), "together") {
		t.Errorf("all files too big together: err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written although the limit was exceeded: %d", len(entries))
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestFilesBoundedBeforeRendering: a file template of a few KiB naming one large secret
// many times is refused before it is rendered (it would take its container's memory
// first), as is a set of files larger than the total allowed.
func TestFilesBoundedBeforeRendering(t *testing.T) {
	t.Parallel()
	file := func(index, refs int) variable {
		tmpl, err := vaultref.Scan(strings.Repeat("${vault:secret/data/app#k}", refs))
		if err != nil {
			t.Fatal(err)
		}
		return variable{index: index, name: "/etc/app/f" + strconv.Itoa(index), file: true, tmpl: tmpl}
	}
	answer := strings.Repeat("s", 64<<10)
	for name, tc := range map[string]struct {
		files []variable
		ok    bool
	}{
		"one file just under 1 MiB":      {[]variable{file(0, 15)}, true},
		"one file of 1000 references":    {[]variable{file(0, 1000)}, false},
		"four files of 960 KiB":          {[]variable{file(0, 15), file(1, 15), file(2, 15), file(3, 15)}, true},
		"five files of 960 KiB, 4.7 MiB": {[]variable{file(0, 15), file(1, 15), file(2, 15), file(3, 15), file(4, 15)}, false},
	} {
		var needs []*need
		for i := range tc.files {
			for range tc.files[i].tmpl.Refs {
				needs = append(needs, &need{user: &tc.files[i], result: result{value: answer}})
			}
		}
		res, err := finish(tc.files, needs, false, slog.New(slog.DiscardHandler))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", name, err)
		case !tc.ok && (err == nil || exitCode(err) != ExitSecret || !strings.Contains(err.Error(), "would be larger than 1048576 bytes")):
			t.Errorf("%s: err = %v, want it refused before rendering (exit %d)", name, err, ExitSecret)
		case !tc.ok && len(res.files) > 0:
			t.Errorf("%s: %d files rendered", name, len(res.files))
		}
	}
}
