package certs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The layout of the certificate folder, as the kubelet lays out Secret volumes:
//
//	tls.crt -> ..data/tls.crt
//	tls.key -> ..data/tls.key
//	..data  -> ..cert-123456       (switched with one rename)
//	..cert-123456/tls.crt, tls.key
//
// Switching ..data replaces both files at once, so the server's certificate watcher never
// reads a new certificate with the old key.
const (
	dataLink      = "..data"
	versionPrefix = "..cert-"
)

// writeFiles puts files (name → content) into dir atomically, unless dir already holds
// exactly that content; changed reports whether it wrote.
func writeFiles(dir string, files map[string][]byte) (changed bool, err error) {
	if same(dir, files) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("certificate folder: %w", err)
	}
	version, err := os.MkdirTemp(dir, versionPrefix)
	if err != nil {
		return false, fmt.Errorf("certificate folder: %w", err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(version, name), content, 0o600); err != nil {
			return false, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := replaceSymlink(dir, dataLink, filepath.Base(version)); err != nil {
		return false, err
	}
	for name := range files {
		if err := replaceSymlink(dir, name, filepath.Join(dataLink, name)); err != nil {
			return false, err
		}
	}
	return true, removeOldVersions(dir, filepath.Base(version))
}

// same tells whether every file in dir already has the wanted content.
func same(dir string, files map[string][]byte) bool {
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, content) {
			return false
		}
	}
	return true
}

// replaceSymlink points dir/name at target, replacing whatever is there with one rename.
func replaceSymlink(dir, name, target string) error {
	if current, err := os.Readlink(filepath.Join(dir, name)); err == nil && current == target {
		return nil
	}
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return nil
}

// removeOldVersions deletes the version folders other than keep; the watcher sees the old
// files go and re-reads through the links.
func removeOldVersions(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("certificate folder: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), versionPrefix) && e.Name() != keep {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
