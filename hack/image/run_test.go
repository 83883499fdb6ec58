package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/internal/image/imagetest"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// field is the value of a "key  value" line of run's report.
func field(t *testing.T, report, key string) string {
	t.Helper()
	for line := range strings.Lines(report) {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q in the report:\n%s", key, report)
	return ""
}

// TestRunWritesAndPushes is `make image IMAGE=127.0.0.1:PORT/vault-injector:v1.0.0
// INSECURE=1` on stand-in binaries: the digest printed is the one in the OCI layout and the
// one a pull from the plain-HTTP registry gets.
func TestRunWritesAndPushes(t *testing.T) {
	t.Parallel()
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	ref := strings.TrimPrefix(reg.URL, "http://") + "/vault-injector:v1.0.0"
	dir := filepath.Join(t.TempDir(), "image")
	var out bytes.Buffer
	err := run(t.Context(), []string{
		"-bin-dir", imagetest.Binaries(t, "arm64"), "-arch", "arm64", "-ca-certs", imagetest.CABundle(t),
		"-version", "v1.0.0", "-oci-layout", dir, "-push", ref, "-insecure",
	}, env(map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	digest := field(t, report, "digest")
	if got := field(t, report, "image"); got != "linux/arm64 v1.0.0" {
		t.Errorf("image line %q", got)
	}
	if got, want := field(t, report, "pushed"), strings.TrimSuffix(ref, ":v1.0.0")+"@"+digest; got != want {
		t.Errorf("pushed %s, want %s", got, want)
	}

	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != digest {
		t.Errorf("layout holds %+v, want %s", m.Manifests, digest)
	}

	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := pulled.Digest(); err != nil || d.String() != digest {
		t.Errorf("pulled %v (%v), want %s", d, err, digest)
	}
}

// TestRunTimestamps: the image's time comes only from SOURCE_DATE_EPOCH or the flag, which
// wins; without either the build refuses rather than reading a clock.
func TestRunTimestamps(t *testing.T) {
	t.Parallel()
	bins, ca := imagetest.Binaries(t, "amd64"), imagetest.CABundle(t)
	digestOf := func(vars map[string]string, extra ...string) (string, error) {
		var out bytes.Buffer
		args := append([]string{"-bin-dir", bins, "-ca-certs", ca, "-oci-layout", ""}, extra...)
		if err := run(t.Context(), args, env(vars), &out, io.Discard); err != nil {
			return "", err
		}
		return field(t, out.String(), "digest"), nil
	}
	fromEnv, err := digestOf(map[string]string{"SOURCE_DATE_EPOCH": "1700000200"})
	if err != nil {
		t.Fatal(err)
	}
	fromFlag, err := digestOf(map[string]string{"SOURCE_DATE_EPOCH": "1700000100"}, "-source-date-epoch", "1700000200")
	if err != nil {
		t.Fatal(err)
	}
	if fromEnv != fromFlag {
		t.Errorf("-source-date-epoch did not win over the environment: %s, %s", fromEnv, fromFlag)
	}
	for epoch, want := range map[string]string{
		"":           "no SOURCE_DATE_EPOCH",
		"yesterday":  `SOURCE_DATE_EPOCH "yesterday" is not a Unix time in seconds`,
		"-1":         `SOURCE_DATE_EPOCH "-1" is not a Unix time in seconds`,
		"1700000000": "",
	} {
		_, err := digestOf(map[string]string{"SOURCE_DATE_EPOCH": epoch})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %v, want %q", epoch, err, want)
		}
	}
}
