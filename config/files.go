package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// FileAnnotationPrefix starts, after AnnotationPrefix, the annotations that each ask for
// one file: vault-injector.io/file.NAME.
const FileAnnotationPrefix = "file."

// DefaultFilesDir is where a container's files volume is mounted unless the pod's
// files-dir annotation says otherwise.
const DefaultFilesDir = "/vault/secrets"

// File is one file a pod asks for, validated; the injector checks the container and
// mounts, envexec writes it.
type File struct {
	// Annotation is the full annotation key, for messages.
	Annotation string `json:"annotation"`
	// Container is the container that gets the file (and alone mounts its volume).
	Container string `json:"container"`
	// Spec is the absolute path, mode and content template envexec is handed.
	Spec settings.FileSpec `json:"spec"`
}

// fileAnnotationDoc documents file.NAME in docs/annotations.md.
const fileAnnotationDoc = "One file envexec writes before the application starts, e.g. " +
	"`{\"container\": \"app\", \"path\": \"tls.key\", \"content\": \">>vault:pki/issue/web#private_key\", \"mode\": \"0400\"}`. " +
	"`path` is absolute below `files-dir`, or relative to it; `content` is one reference or text with `${vault:...}` references; " +
	"`mode` is octal, within `0750` (default `0400`). Only `container` mounts the in-memory volume. See docs/files.md."

// fileAnnotation is the JSON value of a file annotation.
type fileAnnotation struct {
	Container string `json:"container"`
	Path      string `json:"path"`
	Mode      string `json:"mode"`
	Content   string `json:"content"`
}

var (
	fileNameRE      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,56}[A-Za-z0-9])?$`)
	containerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// filesDirAnnotation declares files-dir; the injector checks it against the container's
// own mounts and the injector's paths.
func filesDirAnnotation() Annotation {
	return Annotation{
		Name: "files-dir", Type: "absolute path", Default: "`" + DefaultFilesDir + "`",
		Doc: "Directory where each container that gets files (`" + AnnotationPrefix + FileAnnotationPrefix + "NAME`) mounts its own " +
			"in-memory volume. It may not be, contain or lie below a mount of that container or one of the injector's paths.",
		set: func(p *Pod, v string, _ *Webhook) error {
			if err := settings.CheckFilesDir(v); err != nil {
				return err
			}
			p.FilesDir = v
			return nil
		},
	}
}

// isFileAnnotation tells whether name (without AnnotationPrefix) asks for a file.
func isFileAnnotation(name string) bool { return strings.HasPrefix(name, FileAnnotationPrefix) }

// parseFiles reads every file annotation, in the order of keys (the annotations' keys,
// sorted), after the table set FilesDir.
// It reports every problem, naming the annotation and never quoting the content.
func parseFiles(p *Pod, annotations map[string]string, keys []string) []error {
	var errs []error
	perContainer := map[string][]string{} // each container's paths
	paths := map[string]string{}
	for _, key := range keys {
		name, ok := strings.CutPrefix(key, AnnotationPrefix+FileAnnotationPrefix)
		if !ok {
			continue
		}
		f, err := parseFile(p.Dir(), name, annotations[key])
		if err == nil {
			if other, dup := paths[f.Container+" "+f.Spec.Path]; dup {
				err = fmt.Errorf("path %s is also written by annotation %q", f.Spec.Path, other)
			}
		}
		if err == nil && len(perContainer[f.Container]) == settings.MaxFiles {
			err = fmt.Errorf("container %q would get more than %d files", f.Container, settings.MaxFiles)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("annotation %q: %w", key, err))
			continue
		}
		f.Annotation = key
		paths[f.Container+" "+f.Spec.Path] = key
		perContainer[f.Container] = append(perContainer[f.Container], f.Spec.Path)
		p.Files = append(p.Files, f)
	}
	for _, c := range slices.Sorted(maps.Keys(perContainer)) {
		if err := settings.CheckFileSet(perContainer[c]); err != nil {
			errs = append(errs, fmt.Errorf("files of container %q: %w", c, err))
		}
	}
	return errs
}

func parseFile(dir, name, value string) (File, error) {
	if !fileNameRE.MatchString(name) {
		return File{}, fmt.Errorf("%q after %q is not a file name (letters, digits, '.', '_', '-')", name, FileAnnotationPrefix)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	var a fileAnnotation
	if err := dec.Decode(&a); err != nil || dec.More() {
		return File{}, errors.New(`the value is not a JSON object {"container", "path", "content", "mode"}`)
	}
	if !containerNameRE.MatchString(a.Container) {
		return File{}, errors.New(`"container" must name the container that gets the file`)
	}
	p := a.Path
	if p != "" && !path.IsAbs(p) {
		p = dir + "/" + p
	}
	if err := settings.CheckFilePath(dir, p); err != nil {
		return File{}, err
	}
	mode, err := settings.ParseFileMode(a.Mode)
	if err != nil {
		return File{}, err
	}
	if len(a.Content) > settings.MaxFileContent {
		return File{}, fmt.Errorf("content is %d bytes, at most %d", len(a.Content), settings.MaxFileContent)
	}
	if strings.IndexByte(a.Content, 0) >= 0 {
		return File{}, errors.New("content holds a NUL byte, which the container's environment cannot carry to envexec")
	}
	if err := vaultref.Check(a.Content); err != nil {
		return File{}, fmt.Errorf("content: %w (see docs/references.md)", err)
	}
	return File{Container: a.Container, Spec: settings.FileSpec{Path: p, Mode: mode, Content: a.Content}}, nil
}

// Dir is the directory of the files volumes: files-dir, or DefaultFilesDir.
func (p Pod) Dir() string {
	if p.FilesDir == "" {
		return DefaultFilesDir
	}
	return p.FilesDir
}

// FilesOf are the files of one container, in annotation order.
func (p Pod) FilesOf(container string) []settings.FileSpec {
	var out []settings.FileSpec
	for _, f := range p.Files {
		if f.Container == container {
			out = append(out, f.Spec)
		}
	}
	return out
}

// FileContainers are the containers that get files, sorted, without repeats.
func (p Pod) FileContainers() []string {
	var out []string
	for _, f := range p.Files {
		if !slices.Contains(out, f.Container) {
			out = append(out, f.Container)
		}
	}
	slices.Sort(out)
	return out
}
