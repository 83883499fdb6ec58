package envexec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// copySelf installs the running binary as dir/envexec with mode 0755. It writes a
// temporary file in dir and renames it, so a reader never sees a half-written binary;
// this lets an init container fill a shared emptyDir without a shell.
func copySelf(dir string) error {
	src, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: finding the running binary: %w", errCopy, err)
	}
	tmp, err := writeTemp(dir, src)
	if err != nil {
		return fmt.Errorf("%w: %w", errCopy, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "envexec")); err != nil {
		return fmt.Errorf("%w: %w", errCopy, errors.Join(err, os.Remove(tmp)))
	}
	return nil
}

// writeTemp copies src to a new executable file in dir, synced to disk, and returns
// its name; on failure nothing is left behind.
func writeTemp(dir, src string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".envexec-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(0o755)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", errors.Join(err, os.Remove(out.Name()))
	}
	return out.Name(), nil
}
