// Package docs_test runs the commands of the runbooks in this folder, in their order,
// against real components: a runbook whose commands no longer work fails here.
package docs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/internal/apiservertest"
	"github.com/vault-injector/vault-injector/internal/runbook"
	"github.com/vault-injector/vault-injector/internal/tools"
	"github.com/vault-injector/vault-injector/internal/vaultdev"
)

// TestVaultSetup runs docs/vault-setup.md against a real kube-apiserver and a real Vault
// dev server: its last command must print the secret it stored, read with the token of a
// login as the service account. A token for another audience must then be refused, as
// the page's table says.
func TestVaultSetup(t *testing.T) {
	kube := apiservertest.Start(t)
	vault := vaultdev.Start(t)
	sh := newShell(t, map[string]string{
		"VAULT_ADDR":  vault.Addr,
		"VAULT_TOKEN": vault.RootToken,
		"KUBE_HOST":   kube.Config.Host,
	}, kube.KubeConfig)

	script, err := runbook.Load("vault-setup.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := sh.Run(t.Context(), script)
	if err != nil {
		t.Fatalf("docs/vault-setup.md: %v\n%s", err, out)
	}
	if last := runbook.LastLine(out); last != "s3cr3t-from-vault" {
		t.Errorf("the runbook's last command printed %q, want the secret it stored\n%s", last, out)
	}

	out, err = sh.Run(t.Context(), `vault write auth/kubernetes/login role=api jwt="$(kubectl -n shop create token api)"`)
	if err == nil || !strings.Contains(out, "invalid audience") {
		t.Errorf("a token for the apiserver's audience logged in (err %v), want invalid audience:\n%s", err, out)
	}
	out, err = sh.Run(t.Context(), `vault write auth/kubernetes/login role=api jwt="$(kubectl -n default create serviceaccount api >/dev/null && kubectl -n default create token api --audience vault)"`)
	if err == nil || !strings.Contains(out, "namespace not authorized") {
		t.Errorf("a same-named service account of another namespace logged in (err %v):\n%s", err, out)
	}
}

// newShell is a runbook shell with kubectl and vault, and KUBECONFIG set to kubeconfig.
func newShell(t *testing.T, vars map[string]string, kubeconfig []byte) *runbook.Shell {
	t.Helper()
	kubectl, err := tools.Kubectl(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vault, err := vaultdev.FindBinary(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	vars["KUBECONFIG"] = kc
	return runbook.NewShell(dir, []string{kubectl, vault}, vars)
}
