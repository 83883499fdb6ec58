//go:build unix

package vaultdev

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockBuild serializes build.sh across processes (go test runs packages in parallel),
// so two packages never build the same binary at once. unlock releases it.
func lockBuild() (unlock func(), err error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "vault-injector")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "vaultdev-build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil //nolint:gosec // closing releases the lock; a failure leaves nothing to undo
}
