package framework

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/vault-injector/vault-injector/internal/image"
)

// NodeImages are the images the node's pods run, all pushed to the suite's registry: a
// real node runs images, not the host's files.
type NodeImages struct {
	// Injector is the product image of the Release published from this tree, by digest:
	// the webhook's --injector-image.
	Injector string `json:"injector"`
	// App holds only /testapp (e2e/testapp), with entrypoint ["/testapp"] and cmd
	// ["wait"]; it is the pod sandbox image too, and an args-only container's command
	// comes from its entrypoint.
	App string `json:"app"`
}

// On names the same images on another address of their registry, such as the one
// Node.ServeRegistry returns.
func (i NodeImages) On(registry string) NodeImages {
	move := func(ref string) string {
		_, path, _ := strings.Cut(ref, "/")
		return registry + "/" + path
	}
	return NodeImages{Injector: move(i.Injector), App: move(i.App)}
}

// TestAppEntrypoint is the App image's entrypoint.
var TestAppEntrypoint = []string{"/testapp"}

// PushTestApp builds e2e/testapp and pushes its image to registry (host:port, plain
// HTTP), returning its name.
func PushTestApp(ctx context.Context, root, dir, registry string) (string, error) {
	app := filepath.Join(dir, "testapp")
	if err := goBuild(ctx, root, "./e2e/testapp", app, "-trimpath", "-ldflags=-s -w"); err != nil {
		return "", err
	}
	img, err := testAppImage(app)
	if err != nil {
		return "", err
	}
	return image.Push(ctx, img, registry+"/e2e/testapp:v1", true)
}

// testAppImage is one layer with /testapp and a sticky /tmp, for linux/amd64.
func testAppImage(binary string) (v1.Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("test app image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []struct {
		hdr  tar.Header
		data []byte
	}{
		{tar.Header{Name: "testapp", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}, data},
		{tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}, nil},
	} {
		if err := tw.WriteHeader(&h.hdr); err != nil {
			return nil, fmt.Errorf("test app layer: %w", err)
		}
		if _, err := tw.Write(h.data); err != nil {
			return nil, fmt.Errorf("test app layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("test app layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	})
	if err != nil {
		return nil, fmt.Errorf("test app layer: %w", err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		Config: v1.Config{Entrypoint: TestAppEntrypoint, Cmd: []string{"wait"}},
	})
	if err != nil {
		return nil, fmt.Errorf("test app image: %w", err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("test app image: %w", err)
	}
	return img, nil
}
