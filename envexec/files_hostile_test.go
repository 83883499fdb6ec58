package envexec

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// Paths a pod could ask for to make envexec destroy or refuse its own files: a name like
// envexec's temporary file of another file ("x" and ".envexec-tmp-x": writing x would
// remove the other first), and a file below another file ("a" and "a/b": only one can be
// written). The settings contract refuses both, so the webhook denies them at admission
// (config.TestFileAnnotations) and envexec never gets them.
func TestFilePathsThatWouldClash(t *testing.T) {
	t.Parallel()
	dir := "/vault/secrets"
	for _, p := range []string{dir + "/" + tmpPrefix + "x", dir + "/" + tmpPrefix + "d/y", dir + "/sub/" + tmpPrefix + "z"} {
		if err := settings.CheckFilePath(dir, p); err == nil {
			t.Errorf("CheckFilePath(%s) admitted a name of envexec's temporary files", p)
		}
	}
	for _, set := range [][]string{{dir + "/a", dir + "/a/b"}, {dir + "/a/b/c", dir + "/a-x", dir + "/a"}} {
		if err := settings.CheckFileSet(set); err == nil {
			t.Errorf("CheckFileSet(%q) admitted a file below another", set)
		}
	}
	if err := settings.CheckFileSet([]string{dir + "/a", dir + "/a-x", dir + "/b/a", dir + "/ab/c"}); err != nil {
		t.Errorf("siblings refused: %v", err)
	}
	list := settings.EncodeFiles([]settings.FileSpec{{Path: dir + "/a", Content: "x"}, {Path: dir + "/a/b", Content: "y"}})
	if err := settings.CheckSetting(settings.EnvFiles, list); err == nil {
		t.Errorf("%s with a and a/b accepted", settings.EnvFiles)
	}
}

// A file whose resolved content is too large is refused naming the file and the limit,
// never its size: the message becomes the termination message that `kubectl describe`
// shows, and a secret's exact length is the secret's business.
func TestFileSizeErrorHidesTheSecretLength(t *testing.T) {
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

// A name the file system cannot hold behind envexec's temporary prefix is refused by the
// settings contract, so the webhook denies it at admission; the longest it admits is
// written (a name one byte longer crash-looped the container with "file name too long").
func TestFileNamesFitTheTemporaryName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	longest := filesIn(dir, strings.Repeat("n", settings.MaxFileNameLen), strings.Repeat("d", 255)+"/f")
	for _, f := range longest {
		if err := settings.CheckFilePath(dir, f.Path); err != nil {
			t.Fatalf("CheckFilePath refused a name that fits: %v", err)
		}
	}
	if err := writeFiles(dir, longest, map[int]string{0: "x", 1: "y"}); err != nil {
		t.Fatalf("the longest names admitted cannot be written: %v", err)
	}
	for _, p := range []string{dir + "/" + strings.Repeat("n", settings.MaxFileNameLen+1), dir + "/" + strings.Repeat("d", 256) + "/f"} {
		if err := settings.CheckFilePath(dir, p); err == nil {
			t.Errorf("CheckFilePath admitted a name of %d bytes", len(p)-len(dir)-1)
		}
	}
}

// The kubelet makes an emptyDir 0777. Another user of the container (a worker that
// dropped its privileges) could rename a file of its own over one envexec wrote; envexec
// makes the directory sticky, so it cannot.
func TestOtherUsersCannotReplaceFiles(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching to another user needs root")
	}
	dir, err := os.MkdirTemp("", "files-") //nolint:usetesting // t.TempDir's parents are 0700: another user could not reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|os.ModeSetgid); err != nil { // as the kubelet makes an emptyDir with an fsGroup
		t.Fatal(err)
	}
	files := filesIn(dir, "app.ini")
	if err := writeFiles(dir, files, map[int]string{0: "password = " + fileCanary}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode()&os.ModeSetgid == 0 {
		t.Fatalf("files directory mode %v (%v), want sticky and still setgid (the pod's fsGroup)", fi.Mode(), err)
	}
	swap := exec.CommandContext(t.Context(), "/bin/sh", "-c", `echo 'include = /tmp/evil' > "$1/.x" && mv -f "$1/.x" "$1/app.ini"`, "sh", dir)
	swap.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := swap.CombinedOutput(); err == nil {
		t.Errorf("another user replaced app.ini: %s", out)
	}
	if got, err := os.ReadFile(dir + "/app.ini"); err != nil || string(got) != "password = "+fileCanary {
		t.Errorf("app.ini now %q (%v)", got, err)
	}
}

// TestRotationFitsTheFilesVolume: a rewrite holds every old and every new file at once, so
// the largest set of files allowed (64 files, 4 MiB) must fit twice in a tmpfs of the
// volume's size, whole pages counted. Found by a hostile review: at 8Mi the rewrite of 4 MiB
// of files failed with "no space left on device", for ever.
func TestRotationFitsTheFilesVolume(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(settings.FilesVolumeBytes)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	var files []settings.File
	contents := map[int]string{}
	total := 0
	for i := range settings.MaxFiles {
		// Each in a directory of its own; the last ones take what is left of the total.
		size := 1
		if left := maxFilesTotal - total - (settings.MaxFiles - 1 - i); i >= settings.MaxFiles-5 {
			size = min(settings.MaxFileSize, left)
		}
		files = append(files, settings.File{Path: dir + "/d" + strconv.Itoa(i) + "/f", Mode: settings.DefaultFileMode})
		contents[i] = strings.Repeat("a", size)
		total += size
	}
	if total != maxFilesTotal {
		t.Fatalf("the files hold %d bytes, want the most allowed, %d", total, maxFilesTotal)
	}
	if err := writeFiles(dir, files, contents); err != nil {
		t.Fatal(err)
	}
	for i := range contents {
		contents[i] = strings.Repeat("b", len(contents[i]))
	}
	if err := writeFiles(dir, files, contents); err != nil {
		t.Fatalf("rewriting the largest set of files: %v", err)
	}
}
