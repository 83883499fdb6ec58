// Package registrytest runs go-containerregistry's in-process registry (the real
// distribution protocol) behind TLS for tests, with optional basic auth, a count of
// manifest requests and a gate to make it slow.
package registrytest

import (
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Common platforms for pushes.
var (
	AMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	ARM64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

// Registry is one running test registry.
type Registry struct {
	// Server is the TLS server; its Client() trusts it.
	Server *httptest.Server
	// Host is host:port, as written in image references.
	Host string
	// ManifestRequests counts GET/HEAD of manifests since the last push.
	ManifestRequests atomic.Int64
	// Gate, when set before requests, holds manifest requests until closed or cancelled.
	Gate       chan struct{}
	user, pass string
}

// Start runs a registry for the test; with a user it demands basic auth.
func Start(t testing.TB, user, pass string) *Registry {
	t.Helper()
	r := &Registry{user: user, pass: pass}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.user || p != r.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if strings.Contains(req.URL.Path, "/manifests/") {
			r.ManifestRequests.Add(1)
			if r.Gate != nil {
				select {
				case <-r.Gate:
				case <-req.Context().Done():
					return
				}
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Server.Close)
	r.Host = strings.TrimPrefix(r.Server.URL, "https://")
	return r
}

// RootCAs trusts the registry's TLS certificate (the httptest CA, shared by all test
// servers of the process).
func (r *Registry) RootCAs() *x509.CertPool {
	return r.Server.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs //nolint:forcetypeassert // httptest's client
}

// Variant is one platform's image in a push.
type Variant struct {
	// Platform is the image's os/arch.
	Platform v1.Platform
	// Entrypoint is its ENTRYPOINT; its CMD is ["--from", arch].
	Entrypoint []string
}

// Push writes repo:tag with one image, or an index when given several variants, and
// returns the full reference. The request counter restarts from zero.
func (r *Registry) Push(t testing.TB, repoTag string, variants ...Variant) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(r.Server.Client().Transport), remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})}
	if len(variants) == 1 {
		err = remote.Write(ref, Image(t, variants[0]), opts...)
	} else {
		adds := make([]mutate.IndexAddendum, 0, len(variants))
		for _, v := range variants {
			adds = append(adds, mutate.IndexAddendum{Add: Image(t, v), Descriptor: v1.Descriptor{Platform: &v.Platform}})
		}
		err = remote.WriteIndex(ref, mutate.AppendManifests(empty.Index, adds...), opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.ManifestRequests.Store(0)
	return ref.Name()
}

// Image makes a small random image with the variant's platform and entrypoint.
func Image(t testing.TB, v Variant) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = v.Platform.OS, v.Platform.Architecture
	cf.Config.Entrypoint = v.Entrypoint
	cf.Config.Cmd = []string{"--from", v.Platform.Architecture}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
