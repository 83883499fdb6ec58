package chart_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/internal/runbook"
	"github.com/vault-injector/vault-injector/internal/tools"
)

// runbookShell runs the docs' runbooks against this test's cluster as a platform team
// would: helm (with the runner's own empty configuration), kubectl as the helm admin, and
// the chart at charts/vault-injector, the path the docs use.
func runbookShell(t *testing.T, h *helmRunner, kubeconfig string) *runbook.Shell {
	t.Helper()
	kubectl, err := tools.Kubectl(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(chart, filepath.Join(dir, "charts", "vault-injector")); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"KUBECONFIG": kubeconfig}
	for _, kv := range h.env {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HELM_") {
			vars[k] = v
		}
	}
	return runbook.NewShell(dir, []string{h.bin, kubectl}, vars)
}

// runDocs runs the named sections of a page of docs/ and returns what they printed.
func runDocs(t *testing.T, sh *runbook.Shell, page string, sections ...string) string {
	t.Helper()
	script, err := runbook.Load(filepath.Join("..", "..", "docs", page), sections...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sh.Run(t.Context(), script)
	if err != nil {
		t.Fatalf("docs/%s %q: %v\n%s", page, sections, err, out)
	}
	return out
}

// testX509Runbook: troubleshooting.md's check compares the CA the apiserver trusts with
// the one that signed the webhook's certificate; on a healthy self-managed install the two
// subjects it prints are one.
func testX509Runbook(t *testing.T, sh *runbook.Shell) {
	out := runDocs(t, sh, "troubleshooting.md", "`x509` errors right after an install")
	var subjects []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "subject=") {
			subjects = append(subjects, line)
		}
	}
	if len(subjects) != 2 || subjects[0] != subjects[1] {
		t.Errorf("the runbook printed subjects %q, want the same CA twice:\n%s", subjects, out)
	}
}

// testProvidedRunbook: upgrading.md's switch from self-managed to provided certificates,
// run as written with a CA and serving certificate made with openssl: the apiserver then
// trusts both the new CA and the self-managed one, so no replica is distrusted mid-rollout.
func testProvidedRunbook(t *testing.T, sh *runbook.Shell, currentCA []byte, caBundle func() []byte) {
	// What the runbook assumes the team has: its CA and a certificate for the Service.
	if out, err := sh.Run(t.Context(), `set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=corp-ca -keyout ca.key -out ca.crt 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=vault-injector.vault-injector.svc -keyout tls.key -out tls.csr 2>&1
printf 'subjectAltName=DNS:vault-injector.vault-injector.svc\n' > san.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile san.ext -out tls.crt 2>&1`); err != nil {
		t.Fatalf("making the team's certificate: %v\n%s", err, out)
	}
	runDocs(t, sh, "upgrading.md", "From self-managed to provided")
	got := caBundle()
	if !bytes.Contains(got, currentCA) || bytes.Count(got, []byte("BEGIN CERTIFICATE")) != bytes.Count(currentCA, []byte("BEGIN CERTIFICATE"))+1 {
		t.Errorf("caBundle after the switch holds %d certificates, want the team's CA and the self-managed one:\n%s",
			bytes.Count(got, []byte("BEGIN CERTIFICATE")), got)
	}
}
