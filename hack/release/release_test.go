package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/internal/tools"
)

const (
	testVersion = "v1.2.3"
	testCommit  = "89abcdef0123456789abcdef0123456789abcdef"
	testEpoch   = "1767225600"
	keyPassword = "release-test-password"
)

// published is one `make release` into a real registry (go-containerregistry's, over TLS
// with a CA only the children trust through SSL_CERT_FILE) and what checks need of it.
type published struct {
	dist, registry, cosign, helm string
	env                          []string // the children's environment: the registry's CA
	reg                          *registrytest.Registry
}

// TestMakeRelease runs `make release` as a maintainer would and checks each piece a user
// relies on: checksums of every file, the image by tag and digest, its signature (and
// that another key does not verify it), the SBOMs and provenance as signed attestations
// with the right subject and content, and the chart in the registry pointing at the image.
func TestMakeRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and publishes a release")
	}
	r := startRelease(t)
	dir := t.TempDir()
	key := r.keyPair(t, filepath.Join(dir, "release"))
	wrongKey := r.keyPair(t, filepath.Join(dir, "other"))
	r.run(t, "VERSION="+testVersion, "COSIGN_KEY="+key)

	files := checkSums(t, r.dist)
	for _, want := range []string{
		"bin/linux_amd64/vault-injector", "bin/linux_amd64/envexec", "sbom/vault-injector.cdx.json", "sbom/envexec.cdx.json",
		"sbom/image.cdx.json", "provenance.slsa.json", "image.txt", "chart.txt", "cosign.pub", "vault-injector-1.2.3.tgz",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("dist lacks %s (has %v)", want, slices.Sorted(maps.Keys(files)))
		}
	}
	ref := strings.TrimSpace(readString(t, filepath.Join(r.dist, "image.txt")))
	r.checkImage(t, ref)

	r.cosignOK(t, "verify", "--key", filepath.Join(r.dist, "cosign.pub"), ref)
	r.cosignOK(t, "verify", "--key", strings.TrimSuffix(key, ".key")+".pub", ref)
	if out, err := r.cosignRun(t, "verify", "--key", strings.TrimSuffix(wrongKey, ".key")+".pub", ref); err == nil {
		t.Errorf("another key verifies the image:\n%s", out)
	}

	digest := strings.SplitN(ref, "@sha256:", 2)[1]
	sboms := r.attestations(t, ref, "cyclonedx", digest)
	checkSBOMs(t, sboms, files)
	prov := r.attestations(t, ref, "slsaprovenance1", digest)
	if len(prov) != 1 {
		t.Fatalf("%d provenance attestations, want 1", len(prov))
	}
	checkProvenance(t, prov[0])
	if out, err := r.cosignRun(t, "verify-attestation", "--type", "slsaprovenance1", "--key", strings.TrimSuffix(wrongKey, ".key")+".pub", ref); err == nil {
		t.Errorf("another key verifies the provenance:\n%s", out)
	}
	r.checkChart(t, files)
}

func startRelease(t *testing.T) *published {
	t.Helper()
	reg := registrytest.Start(t, "", "")
	dir := t.TempDir()
	ca := filepath.Join(dir, "registry-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: reg.Server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cosign, err := tools.Cosign(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	helm, err := tools.Helm(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &published{
		dist: filepath.Join(dir, "dist"), registry: reg.Host + "/acme", cosign: cosign, helm: helm, reg: reg,
		env: append(os.Environ(), "SSL_CERT_FILE="+ca, "COSIGN_PASSWORD="+keyPassword, "HELM_REGISTRY_CONFIG="+filepath.Join(dir, "helm-registry.json")),
	}
}

// keyPair makes a cosign key pair PREFIX.key, PREFIX.pub and returns the private key.
func (r *published) keyPair(t *testing.T, prefix string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(prefix), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), r.cosign, "generate-key-pair", "--output-key-prefix", prefix)
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return prefix + ".key"
}

// run is make release with the test's dist, registry, commit and time.
func (r *published) run(t *testing.T, vars ...string) {
	t.Helper()
	root, err := tools.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"release", "DIST=" + r.dist, "REGISTRY=" + r.registry, "COMMIT=" + testCommit, "SOURCE_DATE_EPOCH=" + testEpoch}, vars...)
	cmd := exec.CommandContext(t.Context(), "make", args...)
	cmd.Dir, cmd.Env = root, r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (r *published) cosignRun(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "trusted-root.json")
	if out, err := r.exec(t, r.cosign, "trusted-root", "create", "--out", root); err != nil {
		t.Fatalf("cosign trusted-root create: %v\n%s", err, out)
	}
	// A key-signed local release has no transparency log entry to check.
	return r.exec(t, r.cosign, append(args, "--insecure-ignore-tlog", "--trusted-root", root)...)
}

func (r *published) cosignOK(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := r.cosignRun(t, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *published) exec(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}

// checkSums checks that SHA256SUMS lists every other file of dist with its hash, and
// returns the listed files and their hashes.
func checkSums(t *testing.T, dist string) map[string]string {
	t.Helper()
	listed := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readString(t, filepath.Join(dist, sumsFile))))
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		listed[file] = sum
	}
	unseen := maps.Clone(listed)
	err := filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == sumsFile {
			return err
		}
		rel, _ := filepath.Rel(dist, path)
		got, err := fileSHA256(path)
		if want, ok := listed[filepath.ToSlash(rel)]; !ok || want != got {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %q", rel, got, want)
		}
		delete(unseen, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(unseen) != 0 {
		t.Errorf("SHA256SUMS lists files dist lacks: %v", unseen)
	}
	return listed
}

// checkImage pulls the release by tag and checks it is the image the release names.
func (r *published) checkImage(t *testing.T, ref string) {
	t.Helper()
	if !strings.HasPrefix(ref, r.registry+"/vault-injector@sha256:") {
		t.Fatalf("image.txt names %q, want %s/vault-injector@sha256:…", ref, r.registry)
	}
	tag, err := name.ParseReference(r.registry + "/vault-injector:" + testVersion)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag, remote.WithTransport(r.reg.Server.Client().Transport), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(ref, "@"+desc.Digest.String()) {
		t.Errorf("tag %s is %s, the release signed %s", testVersion, desc.Digest, ref)
	}
}

// attestations verifies the attestations of type typ with the release key and returns
// their predicates, checking that each statement's subject is the image.
func (r *published) attestations(t *testing.T, ref, typ, digest string) []map[string]any {
	t.Helper()
	out := r.cosignOK(t, "verify-attestation", "--type", typ, "--key", filepath.Join(r.dist, "cosign.pub"), ref)
	var preds []map[string]any
	for line := range strings.Lines(string(out)) {
		var env struct{ Payload string }
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("cosign printed %q: %v", line, err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Subject []struct {
				Digest map[string]string
			}
			Predicate map[string]any
		}
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != digest {
			t.Errorf("%s attestation is about %+v, not the image %s", typ, st.Subject, digest)
		}
		preds = append(preds, st.Predicate)
	}
	return preds
}

// checkSBOMs: one SBOM per binary and one of the image; the image's names both binaries
// with the hashes dist has, the CA bundle and the Go modules.
func checkSBOMs(t *testing.T, sboms []map[string]any, files map[string]string) {
	t.Helper()
	if len(sboms) != 3 {
		t.Fatalf("%d SBOM attestations, want 3 (two binaries and the image)", len(sboms))
	}
	var img map[string]any
	for _, s := range sboms {
		if s["bomFormat"] != "CycloneDX" {
			t.Errorf("SBOM is not CycloneDX: %v", s["bomFormat"])
		}
		if c, _ := s["metadata"].(map[string]any)["component"].(map[string]any); c["type"] == "container" {
			img = s
		}
	}
	if img == nil {
		t.Fatal("no SBOM describes the container image")
	}
	text, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		files["bin/linux_amd64/vault-injector"], files["bin/linux_amd64/envexec"],
		`"name":"/etc/ssl/certs/ca-certificates.crt"`, "pkg:golang/golang.org/x/sys@", "pkg:golang/k8s.io/api@",
	} {
		if want == "" || !bytes.Contains(text, []byte(want)) {
			t.Errorf("the image SBOM lacks %q", want)
		}
	}
}

// checkProvenance: the provenance names the commit, the build command and the Go version
// the binaries were built with.
func checkProvenance(t *testing.T, pred map[string]any) {
	t.Helper()
	def, _ := pred["buildDefinition"].(map[string]any)
	ext, _ := def["externalParameters"].(map[string]any)
	internal, _ := def["internalParameters"].(map[string]any)
	src, _ := ext["source"].(map[string]any)
	if src["commit"] != testCommit {
		t.Errorf("provenance names commit %v, want %s", src["commit"], testCommit)
	}
	if cmd, _ := ext["command"].(string); !strings.HasPrefix(cmd, "make release VERSION="+testVersion+" ") {
		t.Errorf("provenance names build command %q", cmd)
	}
	goVersion, err := exec.CommandContext(t.Context(), "go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(string(goVersion)); internal["goVersion"] != v {
		t.Errorf("provenance names Go %v, want %s", internal["goVersion"], v)
	}
}

// checkChart pulls the chart from the registry: the same archive as dist's, its version
// and appVersion set, and rendered it deploys the released image.
func (r *published) checkChart(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if out, err := r.exec(t, r.helm, "pull", "oci://"+r.registry+"/charts/vault-injector", "--version", "1.2.3", "--destination", dir); err != nil {
		t.Fatalf("helm pull: %v\n%s", err, out)
	}
	pulled := filepath.Join(dir, "vault-injector-1.2.3.tgz")
	if sum, err := fileSHA256(pulled); err != nil || sum != files["vault-injector-1.2.3.tgz"] {
		t.Errorf("the pulled chart's sha256 is %s (%v), dist's %s", sum, err, files["vault-injector-1.2.3.tgz"])
	}
	out, err := r.exec(t, r.helm, "show", "chart", pulled)
	if err != nil {
		t.Fatalf("helm show chart: %v\n%s", err, out)
	}
	for _, want := range []string{"\nversion: 1.2.3\n", "\nappVersion: " + testVersion + "\n"} {
		if !strings.Contains("\n"+string(out), want) {
			t.Errorf("Chart.yaml lacks %q:\n%s", want, out)
		}
	}
	out, err = r.exec(t, r.helm, "template", "vi", pulled, "--namespace", "vault-injector")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if want := `image: "` + r.registry + "/vault-injector:" + testVersion + `"`; !strings.Contains(string(out), want) {
		t.Errorf("the chart does not deploy %q by default", want)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
