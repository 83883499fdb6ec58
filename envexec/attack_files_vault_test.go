package envexec

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// TestAttackFilesWriteFailureLeavesTokenLive: envexec logs in, resolves, then fails to
// write a file (here a symlink planted where a directory should be: by the image, or by
// another container sharing the volume, or simply files "a" and "a/b"). It returns
// before releaseToken, so the login token stays valid until its TTL; a crash-looping pod
// piles up live tokens, the threat security.md's "Tokens" table says revoke-self closes.
func TestAttackFilesWriteFailureLeavesTokenLive(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	proxy := newTokenProxy(t, f, nil)
	dir, files := filesEnv(t, settings.FileSpec{Path: "sub/app.conf", Content: "k = ${vault:secret/" + u + "#k}"})
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	env, jwt := f.env(t, append(files, settings.EnvVaultAddr+"="+proxy.addr)...)
	var stdout, stderr strings.Builder
	r := &Runner{Environ: env, Stdout: &stdout, Stderr: &stderr, Exec: func(string, []string, []string) error { return nil }}
	if code := r.Run(t.Context(), []string{"--", "true"}); code == ExitOK {
		t.Fatal("started although the file could not be written")
	}
	token := proxy.lastToken(t)
	assertNoLeak(t, stderr.String(), value, jwt, token)
	if got := lookupSelf(t, f, token); got != http.StatusForbidden {
		t.Errorf("after the failed start, lookup-self with envexec's login token: %d, want 403 (revoked)", got)
	}
}
