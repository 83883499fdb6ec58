package image_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/vault-injector/vault-injector/internal/image"
)

// TestWriteLayout: the OCI layout holds exactly the built image, tagged; writing again
// replaces it without leaving the older build's blobs; a directory that is not a layout
// is refused and left as it was.
func TestWriteLayout(t *testing.T) {
	t.Parallel()
	o := options(t)
	dir := filepath.Join(t.TempDir(), "image")
	older := o
	older.Version = "v1.2.2"
	for _, img := range []image.Options{older, o} {
		if err := image.WriteLayout(dir, build(t, img), img.Version); err != nil {
			t.Fatal(err)
		}
	}
	img := build(t, o)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != digest(t, img) || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Fatalf("index %+v, want only %s tagged v1.2.3", m.Manifests, digest(t, img))
	}
	blobs, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 4 { // manifest, config, two layers
		t.Errorf("%d blobs, want the 4 of one image", len(blobs))
	}

	other := t.TempDir()
	keep := filepath.Join(other, "keep")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = image.WriteLayout(other, img, "v1.2.3")
	if err == nil || !strings.Contains(err.Error(), "not empty and not an OCI layout") {
		t.Errorf("WriteLayout into a non-layout directory: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the refused directory lost its file: %v", err)
	}
}
