package image_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/vault-injector/vault-injector/internal/image"
)

// testVersion stands for --build-arg VERSION= and Options.Version.
const testVersion = "v9.8.7"

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImageMatchesDockerfile keeps the two builds of the product image in agreement: the
// Dockerfile's final stage (FROM, COPY, USER, ENTRYPOINT, LABEL, and the base's config it
// inherits) and what image.Build makes.
func TestImageMatchesDockerfile(t *testing.T) {
	t.Parallel()
	want, err := dockerfileLayout(readRepoFile(t, "Dockerfile"), testVersion)
	if err != nil {
		t.Fatal(err)
	}
	o := options(t)
	o.Version = testVersion
	got := imageLayout(t, build(t, o))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the Dockerfile (-) and hack/image (+) build different images; change both:\n%s", diff)
	}
}

// TestLayoutDriftIsCaught proves the comparison above fails when either side changes
// alone: each edit of the Dockerfile, and each change of a built image, is a difference
// (or a Dockerfile the parser refuses to guess about).
func TestLayoutDriftIsCaught(t *testing.T) {
	t.Parallel()
	dockerfile := readRepoFile(t, "Dockerfile")
	o := options(t)
	o.Version = testVersion
	img := build(t, o)
	built := imageLayout(t, img)

	// refused marks an edit the parser rejects rather than guesses about.
	type dockerEdit struct {
		edit    func(string) string
		refused bool
	}
	for name, tc := range map[string]dockerEdit{
		"USER":               {edit: replacer(t, dockerfile, "USER 65532:65532", "USER 65532")},
		"ENTRYPOINT":         {edit: replacer(t, dockerfile, `ENTRYPOINT ["/usr/local/bin/vault-injector"]`, `ENTRYPOINT ["/usr/local/bin/envexec"]`)},
		"a binary less":      {edit: replacer(t, dockerfile, "/out/vault-injector /out/envexec /usr/local/bin/", "/out/vault-injector /usr/local/bin/")},
		"another directory":  {edit: replacer(t, dockerfile, "/out/envexec /usr/local/bin/", "/out/envexec /bin/")},
		"COPY --chown":       {edit: replacer(t, dockerfile, "COPY --from=build", "COPY --from=build --chown=65532:65532")},
		"COPY --chmod":       {edit: replacer(t, dockerfile, "COPY --from=build", "COPY --from=build --chmod=0500")},
		"a label value":      {edit: replacer(t, dockerfile, `licenses="Apache-2.0"`, `licenses="MIT"`)},
		"a label key":        {edit: replacer(t, dockerfile, "org.opencontainers.image.title", "org.opencontainers.image.name")},
		"the version source": {edit: replacer(t, dockerfile, `version="${VERSION}"`, `version="v0"`)},
		"the base":           {edit: replacer(t, dockerfile, "FROM gcr.io/distroless/static-debian12:nonroot", "FROM gcr.io/distroless/static-debian13:nonroot")},
		"an ENV":             {edit: appender("ENV GODEBUG=x509negativeserial=1")},
		"a WORKDIR":          {edit: appender("WORKDIR /")},
		"a CMD":              {edit: appender(`CMD ["--help"]`)},
		"a shell ENTRYPOINT": {edit: appender("ENTRYPOINT /usr/local/bin/vault-injector"), refused: true},
		"an EXPOSE":          {edit: appender("EXPOSE 8443"), refused: true},
		"a RUN":              {edit: appender("RUN mkdir /data"), refused: true},
	} {
		t.Run("Dockerfile: "+name, func(t *testing.T) {
			t.Parallel()
			want, err := dockerfileLayout(tc.edit(dockerfile), testVersion)
			switch {
			case tc.refused && err == nil:
				t.Error("the parser accepted an instruction it cannot compare")
			case !tc.refused && err != nil:
				t.Errorf("the parser refused the edit: %v", err)
			case !tc.refused && cmp.Equal(want, built):
				t.Error("the edited Dockerfile still matches the built image")
			}
		})
	}

	want, err := dockerfileLayout(dockerfile, testVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*testing.T, v1.Image) v1.Image{
		"user":            configChange(func(c *v1.Config) { c.User = "65532" }),
		"entrypoint":      configChange(func(c *v1.Config) { c.Entrypoint = []string{"/usr/local/bin/envexec"} }),
		"cmd":             configChange(func(c *v1.Config) { c.Cmd = []string{"--help"} }),
		"a label dropped": configChange(func(c *v1.Config) { delete(c.Labels, "org.opencontainers.image.licenses") }),
		"a label value":   configChange(func(c *v1.Config) { c.Labels["org.opencontainers.image.version"] = "dev" }),
		"env":             configChange(func(c *v1.Config) { c.Env = append(c.Env, "GODEBUG=x509negativeserial=1") }),
		"working dir":     configChange(func(c *v1.Config) { c.WorkingDir = "/" }),
		"an extra binary": layerChange(&tar.Header{Name: "usr/local/bin/vault", Mode: 0o755}),
		"a binary's mode": layerChange(&tar.Header{Name: "usr/local/bin/envexec", Mode: 0o700}),
		"a binary's owner": layerChange(&tar.Header{
			Name: "usr/local/bin/vault-injector", Mode: 0o755, Uid: 65532, Gid: 65532,
		}),
	} {
		t.Run("image: "+name, func(t *testing.T) {
			t.Parallel()
			if cmp.Equal(want, imageLayout(t, change(t, img))) {
				t.Error("the changed image still matches the Dockerfile")
			}
		})
	}
}

// replacer returns an edit of dockerfile, which must contain old (checked now, on the
// test's goroutine).
func replacer(t *testing.T, dockerfile, old, replacement string) func(string) string {
	t.Helper()
	if !strings.Contains(dockerfile, old) {
		t.Fatalf("the Dockerfile has no %q to edit: update this test", old)
	}
	return func(s string) string { return strings.Replace(s, old, replacement, 1) }
}

func appender(line string) func(string) string {
	return func(s string) string { return s + line + "\n" }
}

// TestDockerfileBuildsLikeMake: the Dockerfile's go builds and `make build` (whose
// binaries `make image` packs) use the same flags, so both images carry the same binaries
// for a version: static, trimmed, stripped, without build ID, version stamped.
func TestDockerfileBuildsLikeMake(t *testing.T) {
	t.Parallel()
	makeBuild, err := makeGoBuild(readRepoFile(t, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerBuilds, err := dockerGoBuilds(readRepoFile(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dockerBuilds) != len(image.Binaries) {
		t.Fatalf("the Dockerfile runs %d go builds, want one per binary %v", len(dockerBuilds), image.Binaries)
	}
	for i, b := range dockerBuilds {
		if diff := cmp.Diff(makeBuild, b); diff != "" {
			t.Errorf("go build #%d: Makefile GO_BUILD (-) and Dockerfile (+) differ:\n%s", i+1, diff)
		}
	}
}

// configChange returns an image change that edits the config.
func configChange(edit func(*v1.Config)) func(*testing.T, v1.Image) v1.Image {
	return func(t *testing.T, img v1.Image) v1.Image {
		t.Helper()
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := *cf.Config.DeepCopy()
		edit(&c)
		out, err := mutate.Config(img, c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// layerChange returns an image change that adds a layer writing one file.
func layerChange(hdr *tar.Header) func(*testing.T, v1.Image) v1.Image {
	return func(t *testing.T, img v1.Image) v1.Image {
		t.Helper()
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr.Typeflag = tar.TypeReg
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		out, err := mutate.AppendLayers(img, layer)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}
