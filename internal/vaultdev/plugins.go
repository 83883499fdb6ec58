package vaultdev

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// PluginDirName is the folder beside a vault binary that holds the external plugins a
// minimal build lacks (hack/tools/build.sh builds Vault with its `minimal` tag, which
// halves the cold build, and these two plugins from the same pinned versions).
const PluginDirName = "plugins"

// externalPlugins are the plugins the tests need beyond a minimal Vault's built-ins,
// by file name: the catalog type each registers as. A full Vault has both built in.
var externalPlugins = map[string]string{
	"kubernetes":                 "auth",
	"postgresql-database-plugin": "database",
}

// pluginDir returns the absolute plugins folder beside binary, or "" when there is none.
func pluginDir(binary string) (string, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return "", fmt.Errorf("vault binary %s: %w", binary, err)
	}
	dir := filepath.Join(filepath.Dir(abs), PluginDirName)
	switch info, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("vault plugins: %w", err)
	case !info.IsDir():
		return "", fmt.Errorf("vault plugins: %s is not a folder", dir)
	}
	return dir, nil
}

// registerPlugins adds each known plugin in dir to the catalog under its file name,
// pinned to the file's SHA-256, so that mounts of type "kubernetes" and the database
// engine's "postgresql-database-plugin" work as on a full Vault.
func (s *Server) registerPlugins(ctx context.Context, dir string) error {
	for name, typ := range externalPlugins {
		sum, err := fileSHA256(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("vault plugin %s: %w", name, err)
		}
		body := map[string]any{"sha256": sum, "command": name}
		if _, err := s.Request(ctx, http.MethodPut, "sys/plugins/catalog/"+typ+"/"+name, body); err != nil {
			return fmt.Errorf("registering vault plugin %s: %w", name, err)
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
