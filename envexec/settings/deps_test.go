package settings_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the settings contract is shared by the webhook and envexec, so
// it must stay a leaf that either can import: the standard library and the reference
// grammar (itself standard-library only), nothing else.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/vault-injector/vault-injector/envexec/settings": true,
		"github.com/vault-injector/vault-injector/vaultref":         true,
	}
	var got []string
	for _, p := range strings.Fields(string(out)) {
		got = append(got, p)
		if !allowed[p] {
			t.Errorf("envexec/settings depends on %s; it must stay standard-library only", p)
		}
	}
	if len(got) != len(allowed) {
		t.Errorf("dependencies %v, want exactly %d", got, len(allowed))
	}
}
