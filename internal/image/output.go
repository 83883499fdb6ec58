package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// refNameAnnotation names an image in an OCI layout's index (what `crane push DIR REF`,
// skopeo and containerd's import read as its tag).
const refNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes img as the only image of an OCI image layout at dir, tagged refName
// in its index. A layout written before is replaced, so the directory holds no blob of an
// older build; any other non-empty directory is refused rather than deleted.
func WriteLayout(dir string, img v1.Image, refName string) error {
	if err := clearLayout(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: refName})); err != nil {
		return fmt.Errorf("image: OCI layout %s: %w", dir, err)
	}
	return nil
}

func clearLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image: OCI layout: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("image: %s is not empty and not an OCI layout; not replacing it", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("image: replacing OCI layout: %w", err)
	}
	return nil
}

// Push writes img to ref (host[:port]/name:tag) with the credentials of the Docker config
// (~/.docker/config.json), and returns the pushed reference by digest. insecure allows
// plain HTTP, for a local registry; it does not turn off TLS verification. opts come last,
// so a test can replace the transport.
func Push(ctx context.Context, img v1.Image, ref string, insecure bool, opts ...remote.Option) (string, error) {
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return "", fmt.Errorf("image: push reference: %w", err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(r, img, opts...); err != nil {
		return "", fmt.Errorf("image: push %s: %w", r, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image: digest: %w", err)
	}
	return r.Context().Digest(digest.String()).String(), nil
}

// Size is what a pull of img downloads: its manifest, its config and its compressed
// layers.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("image: manifest: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("image: manifest: %w", err)
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}
