package envexec

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// A start-up that fails after login revokes the token it logged in with: no application
// got it, and a crash-looping pod would otherwise pile up live tokens (docs/security.md,
// Tokens). Two failures after login: a file that cannot be written (a symlink planted
// where a directory should be, by the image or another container sharing the volume), and
// a secret that is missing.
func TestFailedStartRevokesToken(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	dir, files := filesEnv(t, settings.FileSpec{Path: "sub/app.conf", Content: "k = ${vault:secret/" + u + "#k}"})
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	for name, extra := range map[string][]string{
		"file not written": files,
		"secret missing":   {"APP_KEY=vault:secret/data/" + u + "-absent#k"},
	} {
		t.Run(name, func(t *testing.T) {
			proxy := newTokenProxy(t, f, nil)
			env, jwt := f.env(t, append(extra, settings.EnvVaultAddr+"="+proxy.addr)...)
			var stdout, stderr strings.Builder
			r := &Runner{Environ: env, Stdout: &stdout, Stderr: &stderr, Exec: func(string, []string, []string) error { return nil }}
			if code := r.Run(t.Context(), []string{"--", "true"}); code == ExitOK {
				t.Fatal("started although start-up failed")
			}
			token := proxy.lastToken(t)
			assertNoLeak(t, stderr.String(), value, jwt, token)
			if got := lookupSelf(t, f, token); got != http.StatusForbidden {
				t.Errorf("after the failed start, lookup-self with envexec's login token: %d, want 403 (revoked)", got)
			}
		})
	}
}
