package tools_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vault-injector/vault-injector/internal/tools"
)

func TestLocateEnvironmentWins(t *testing.T) {
	t.Setenv("VAULT_INJECTOR_TEST_TOOL", "/opt/custom/tool")
	got, err := tools.Locate(t.Context(), "VAULT_INJECTOR_TEST_TOOL", "vault", nil)
	if err != nil || got != "/opt/custom/tool" {
		t.Fatalf("Locate = %q, %v", got, err)
	}
}

func TestLocateBuildsOrFindsTheCachedBuild(t *testing.T) {
	t.Setenv(tools.EnvVault, "")
	got, err := tools.Vault(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(got); err != nil || info.Mode()&0o111 == 0 || filepath.Base(got) != "vault" {
		t.Fatalf("Vault() = %q: not an executable named vault (%v)", got, err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := tools.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "tools", "build.sh")); err != nil {
		t.Fatalf("root %s has no hack/tools/build.sh: %v", root, err)
	}
}
