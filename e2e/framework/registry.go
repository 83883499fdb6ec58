package framework

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an OCI registry on loopback speaking the real distribution protocol, so
// the webhook's entrypoint lookup is tested against what it will meet in a cluster.
type Registry struct {
	// Host is host:port, the prefix of image names and the webhook's insecure registry.
	Host   string
	server *httptest.Server
}

// StartRegistry serves an in-memory registry; its request log goes to w (nil discards).
func StartRegistry(w io.Writer) *Registry {
	if w == nil {
		w = io.Discard
	}
	s := httptest.NewServer(registry.New(registry.Logger(log.New(w, "registry: ", log.LstdFlags))))
	return &Registry{Host: strings.TrimPrefix(s.URL, "http://"), server: s}
}

// Stop closes the registry; its images are gone.
func (r *Registry) Stop() {
	r.server.Close()
}

// PushImageFrom pushes base (on registryHost) with its entrypoint and cmd replaced as
// registryHost/repoTag and returns its name: an image of real files whose config a spec
// chooses.
func PushImageFrom(ctx context.Context, registryHost, base, repoTag string, entrypoint, cmd []string) (string, error) {
	baseRef, err := name.ParseReference(base, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("image name %s: %w", base, err)
	}
	img, err := remote.Image(baseRef, remote.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", base, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("config of %s: %w", base, err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Entrypoint, cfg.Config.Cmd = entrypoint, cmd
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return "", fmt.Errorf("image %s: %w", repoTag, err)
	}
	image := registryHost + "/" + repoTag
	ref, err := name.ParseReference(image, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("image name %s: %w", image, err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", image, err)
	}
	return image, nil
}
