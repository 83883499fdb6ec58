package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/vault-injector/vault-injector/vaultref"
)

// Limits on the files one container asks for: the webhook refuses more at admission and
// envexec again at start, so a pod cannot make envexec fill its memory volume.
const (
	// MaxFiles bounds the number of files one container gets.
	MaxFiles = 64
	// MaxFileContent bounds one file's content as written in the pod (its template).
	MaxFileContent = 16 << 10
	// MaxFileSize bounds one file once its references are resolved.
	MaxFileSize = 1 << 20
	// FilesVolumeBytes is the size limit of a files volume: every file twice over (a
	// rewrite holds the old and the new ones until it renames the new into place), plus a
	// page per file and per directory, rounded up.
	FilesVolumeBytes = 10 << 20
	// DefaultFileMode is a file's mode when the pod names none: its owner reads it.
	DefaultFileMode fs.FileMode = 0o400
	// MaxFileMode holds every bit a pod may ask for: the owner may read, write and
	// execute, the group read and execute, others nothing.
	MaxFileMode fs.FileMode = 0o750
)

// File is one file envexec writes before it starts the application: Content is text
// with references in vaultref's grammar (or one whole reference), resolved like a
// variable's value.
type File struct {
	// Path is absolute and lies below the files directory.
	Path string
	// Mode is the file's permission bits, within MaxFileMode and with the owner's read.
	Mode fs.FileMode
	// Content is the file's template.
	Content vaultref.Template
}

// fileWire is a File as the webhook writes it into ENVEXEC_FILES.
type fileWire struct {
	Path    string `json:"path"`
	Mode    string `json:"mode,omitempty"`
	Content string `json:"content"`
}

// FileSpec is a File before its content is scanned: what the webhook encodes.
type FileSpec struct {
	// Path is the file's absolute path.
	Path string
	// Mode is its permission bits; 0 means DefaultFileMode.
	Mode fs.FileMode
	// Content is the text, references included, as the pod wrote it.
	Content string
}

// EncodeFiles is the value of ENVEXEC_FILES for specs, in the form parseFiles reads.
func EncodeFiles(specs []FileSpec) string {
	wire := make([]fileWire, len(specs))
	for i, f := range specs {
		mode := f.Mode
		if mode == 0 {
			mode = DefaultFileMode
		}
		wire[i] = fileWire{Path: f.Path, Mode: fmt.Sprintf("%04o", mode), Content: f.Content}
	}
	b, _ := json.Marshal(wire) //nolint:errchkjson // strings only: cannot fail
	return string(b)
}

// ParseFileMode reads an octal mode such as "0400" or "440" and checks it is within
// MaxFileMode and lets the owner read.
func ParseFileMode(v string) (fs.FileMode, error) {
	if v == "" {
		return DefaultFileMode, nil
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q is not an octal number such as 0400", v)
	}
	m := fs.FileMode(n)
	switch {
	case m&^MaxFileMode != 0:
		return 0, fmt.Errorf("mode %q allows more than %04o (others get nothing, the group at most read and execute, no setuid, setgid or sticky bit)", v, MaxFileMode)
	case m&0o400 == 0:
		return 0, fmt.Errorf("mode %q does not let the owner read the file", v)
	}
	return m, nil
}

// CheckFilePath checks that p is a clean absolute path strictly below dir (itself clean
// and absolute): no "..", no "." or empty segment, no NUL. Both sides of the contract
// call it, so what the webhook admits is what envexec writes.
func CheckFilePath(dir, p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("path %q is not absolute", p)
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("path holds a NUL byte")
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean (no \"..\", \".\", \"//\" or trailing \"/\")", p)
	case !strings.HasPrefix(p, dir+"/") || dir == "/":
		return fmt.Errorf("path %q is not below the files directory %s", p, dir)
	case len(p) > 4096:
		return errors.New("path is longer than 4096 bytes")
	case strings.Contains(p, "/"+TempFilePrefix):
		return fmt.Errorf("path %q has a name starting with %s, which envexec uses for files being written", p, TempFilePrefix)
	case len(path.Base(p)) > MaxFileNameLen:
		// envexec writes the file under its name behind TempFilePrefix first.
		return fmt.Errorf("the file name of path %q is longer than %d bytes", p, MaxFileNameLen)
	case slices.ContainsFunc(strings.Split(path.Dir(p), "/"), func(seg string) bool { return len(seg) > maxNameLen }):
		return fmt.Errorf("a directory name of path %q is longer than %d bytes", p, maxNameLen)
	}
	return nil
}

// maxNameLen is the longest name a Linux file system takes (NAME_MAX).
const maxNameLen = 255

// MaxFileNameLen is the longest file name a path may end in: envexec first writes the
// file under that name behind TempFilePrefix, which must fit in NAME_MAX too.
const MaxFileNameLen = maxNameLen - len(TempFilePrefix)

// TempFilePrefix starts the name of a file envexec is writing (then renames into place);
// no requested path may hold a name that starts with it.
const TempFilePrefix = ".envexec-tmp-"

// CheckFileSet refuses two paths of one container where one is a directory of the other:
// envexec could write only one of them, so the container could never start.
func CheckFileSet(paths []string) error {
	set := make(map[string]bool, len(paths))
	for _, p := range paths {
		set[p] = true
	}
	for _, p := range paths {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if set[d] {
				return fmt.Errorf("path %s is below %s, another file", p, d)
			}
		}
	}
	return nil
}

// CheckFilesDir checks the directory the files volume is mounted at: absolute, clean,
// not the root.
func CheckFilesDir(dir string) error {
	switch {
	case !path.IsAbs(dir) || path.Clean(dir) != dir:
		return fmt.Errorf("%q is not a clean absolute path", dir)
	case dir == "/":
		return errors.New(`"/" cannot be the files directory`)
	case strings.ContainsAny(dir, "\x00:,"):
		return fmt.Errorf("%q holds a NUL, ':' or ','", dir)
	}
	return nil
}

func parseFilesDir(s *Settings, v string) error {
	if v == "" {
		return nil // validate requires it when files are asked for
	}
	if err := CheckFilesDir(v); err != nil {
		return err
	}
	s.FilesDir = v
	return nil
}

// parseFiles reads the JSON list, with unknown fields refused, and scans every content;
// paths are checked against the directory in validate, once both are parsed.
func parseFiles(s *Settings, v string) error {
	if v == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	var wire []fileWire
	if err := dec.Decode(&wire); err != nil {
		return errors.New("not a JSON list of {path, mode, content}")
	}
	if len(wire) > MaxFiles {
		return fmt.Errorf("%d files, at most %d", len(wire), MaxFiles)
	}
	var errs []error
	seen := map[string]bool{}
	for _, w := range wire {
		f, err := parseFile(w)
		if err == nil && seen[f.Path] {
			err = errors.New("named twice")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("file %q: %w", w.Path, err))
			continue
		}
		seen[f.Path] = true
		s.Files = append(s.Files, f)
	}
	if len(errs) == 0 {
		paths := make([]string, len(s.Files))
		for i, f := range s.Files {
			paths[i] = f.Path
		}
		errs = append(errs, CheckFileSet(paths))
	}
	return errors.Join(errs...)
}

func parseFile(w fileWire) (File, error) {
	mode, err := ParseFileMode(w.Mode)
	if err != nil {
		return File{}, err
	}
	if len(w.Content) > MaxFileContent {
		return File{}, fmt.Errorf("content is %d bytes, at most %d", len(w.Content), MaxFileContent)
	}
	t, err := vaultref.Scan(w.Content)
	if err != nil {
		return File{}, err
	}
	return File{Path: w.Path, Mode: mode, Content: t}, nil
}

// validateFiles checks every file's path against the directory.
func (s *Settings) validateFiles() []error {
	if len(s.Files) > 0 && s.FilesDir == "" {
		return []error{&settingError{EnvFilesDir, "is required with " + EnvFiles}}
	}
	var errs []error
	for _, f := range s.Files {
		if err := CheckFilePath(s.FilesDir, f.Path); err != nil {
			errs = append(errs, &settingError{EnvFiles, err.Error()})
		}
	}
	return errs
}
