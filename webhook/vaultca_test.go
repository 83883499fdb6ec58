package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/internal/syncbuf"
	"github.com/vault-injector/vault-injector/webhook"
)

// The webhook picks up a changed Vault CA bundle while it runs, and keeps the last good
// one, saying so once, when the file turns invalid.
func TestWatchVaultCA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.crt")
	write := func(data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first, second := newTestCA(t, "vault CA 1").pem, newTestCA(t, "vault CA 2").pem
	write(first)
	ca, err := config.NewVaultCA(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	log := funcr.New(func(_, args string) { _, _ = logs.Write([]byte(args + "\n")) }, funcr.Options{})
	go webhook.WatchVaultCA(t.Context(), ca, time.Millisecond, log)

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-t.Context().Done():
				t.Fatalf("%s never happened; logs:\n%s", what, logs.String())
			case <-time.After(time.Millisecond):
			}
		}
	}
	write(second)
	waitFor("the new bundle", func() bool { return ca.Certs() == string(second) })
	waitFor("a log line", func() bool { return strings.Contains(logs.String(), `"msg"="reloaded the Vault CA bundle"`) })

	write([]byte("not-a-bundle-canary"))
	waitFor("an error line", func() bool { return strings.Contains(logs.String(), "cannot reload the Vault CA bundle") })
	write(second)
	waitFor("recovery", func() bool { return strings.Count(logs.String(), "reloaded the Vault CA bundle") == 2 })
	if got := ca.Certs(); got != string(second) {
		t.Errorf("pods get\n%s\nwant the last good bundle", got)
	}
	if n := strings.Count(logs.String(), "cannot reload"); n != 1 {
		t.Errorf("%d error lines for one broken bundle, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "canary") {
		t.Errorf("the log repeats the file's content:\n%s", logs.String())
	}
}
