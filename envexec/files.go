package envexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// errFiles means a file could not be written below ENVEXEC_FILES_DIR.
var errFiles = errors.New("cannot write a file")

// maxFilesTotal bounds all files of a container together, resolved: the webhook sizes
// the memory volume for it twice over, with room for whole pages (a rewrite holds every
// old and every new file for a moment).
const maxFilesTotal = 4 << 20

// tmpPrefix starts the name of a file being written; it is renamed over its target when
// complete, so the application never reads a partial file. No requested path may use it
// (settings.CheckFilePath), so a temporary name is never another file's.
const tmpPrefix = settings.TempFilePrefix

// findFiles makes each file a user of secrets, like a variable: its content is the
// template, its name the path (never the content, in any message).
func findFiles(files []settings.File) []variable {
	out := make([]variable, len(files))
	for i, f := range files {
		out[i] = variable{index: i, name: f.Path, file: true, tmpl: f.Content}
	}
	return out
}

// checkFileSizes refuses resolved contents larger than the limits, naming the file.
func checkFileSizes(files []settings.File, contents map[int]string) error {
	total := 0
	for i, f := range files {
		n := len(contents[i])
		total += n
		if n > settings.MaxFileSize {
			// The limit only: the size of a resolved secret is the secret's business.
			return fmt.Errorf("%w: file %s would be larger than %d bytes", errSecret, f.Path, settings.MaxFileSize)
		}
	}
	if total > maxFilesTotal {
		return fmt.Errorf("%w: the files would be larger than %d bytes together", errSecret, maxFilesTotal)
	}
	return nil
}

// writeFiles writes every file below dir, each atomically (a temporary file in the same
// directory, synced, then renamed over the target), and all of them or none when one
// cannot be written, with its mode, owned by envexec's user
// (the container's). Everything goes through an os.Root on dir, so no path and no
// symlink planted in the volume can lead outside it; a symlink, directory or other
// non-regular file where a file or a parent directory should be is refused, not followed
// or replaced.
func writeFiles(dir string, files []settings.File, contents map[int]string) error {
	if len(files) == 0 {
		return nil
	}
	if err := checkFileSizes(files, contents); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("%w: opening the files directory %s: %w", errFiles, dir, err)
	}
	defer root.Close()
	keepOthersOut(root)
	// All or nothing, as far as the filesystem allows: every file is written to its
	// temporary name first, and only then are they renamed over their targets, so a
	// rotation that fails (a directory planted where a file goes, a full volume) leaves
	// every file as it was instead of a new certificate beside its old key.
	staged := make([]string, 0, len(files))
	unstage := func() {
		for _, rel := range staged {
			_ = root.Remove(tempName(rel))
		}
	}
	for i, f := range files {
		rel, ok := strings.CutPrefix(f.Path, dir+"/")
		if !ok || settings.CheckFilePath(dir, f.Path) != nil {
			unstage()
			return fmt.Errorf("%w: %s is not below %s", errFiles, f.Path, dir)
		}
		if err := stage(root, rel, f.Mode, contents[i]); err != nil {
			unstage()
			return fmt.Errorf("%w: %s: %w", errFiles, f.Path, err)
		}
		staged = append(staged, rel)
	}
	for i, rel := range staged {
		if err := root.Rename(tempName(rel), rel); err != nil {
			staged = staged[i:]
			unstage()
			return fmt.Errorf("%w: %s/%s: replacing it: %w", errFiles, dir, rel, err)
		}
	}
	return nil
}

// tempName is where a file is written before it is renamed over rel.
func tempName(rel string) string {
	return path.Join(path.Dir(rel), tmpPrefix+path.Base(rel))
}

// keepOthersOut sets the sticky bit on a files directory anyone may write to, as the
// kubelet makes an emptyDir (0777): then no other user of the container (a worker that
// dropped its privileges) can rename over or remove a file envexec wrote. Where envexec
// may not change the directory's mode (neither its owner nor root), it stays as it is.
func keepOthersOut(root *os.Root) {
	fi, err := root.Stat(".")
	if err != nil || fi.Mode().Perm()&0o002 == 0 || fi.Mode()&fs.ModeSticky != 0 {
		return
	}
	// The other bits stay: an fsGroup emptyDir is setgid, so files keep the pod's group.
	_ = root.Chmod(".", fi.Mode()&(fs.ModePerm|fs.ModeSetgid)|fs.ModeSticky) // best effort, as said above
}

// stage writes one file, relative to root, to its temporary name (tempName), synced, for
// writeFiles to rename over it.
func stage(root *os.Root, rel string, mode fs.FileMode, content string) error {
	if err := mkdirs(root, path.Dir(rel)); err != nil {
		return err
	}
	if fi, err := root.Lstat(rel); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("refusing to replace %s in the files volume", describe(fi.Mode()))
	}
	tmp := tempName(rel)
	// A leftover of an interrupted write (or anything planted there) is removed, not
	// followed: Remove acts on the name itself.
	if err := root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing a leftover temporary file: %w", err)
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("creating a temporary file: %w", err)
	}
	if err := writeAll(f, mode, content); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// writeAll writes content, sets mode (the umask may have narrowed it) and syncs.
func writeAll(f *os.File, mode fs.FileMode, content string) error {
	_, err := f.WriteString(content)
	err = errors.Join(err, f.Chmod(mode), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// mkdirs creates dir and its parents (mode 0700) below root, refusing any segment that
// exists and is not a directory: a symlink there is never followed.
func mkdirs(root *os.Root, dir string) error {
	if dir == "." {
		return nil
	}
	cur := ""
	for _, seg := range strings.Split(dir, "/") {
		cur = path.Join(cur, seg)
		fi, err := root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := root.Mkdir(cur, 0o700); err != nil {
				return fmt.Errorf("creating directory %s: %w", cur, err)
			}
		case err != nil:
			return fmt.Errorf("checking directory %s: %w", cur, err)
		case !fi.IsDir():
			return fmt.Errorf("refusing %s where directory %s should be", describe(fi.Mode()), cur)
		}
	}
	return nil
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a file"
	default:
		return "a special file"
	}
}
