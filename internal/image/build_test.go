package image_test

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vault-injector/vault-injector/internal/image"
	"github.com/vault-injector/vault-injector/internal/image/imagetest"
	"github.com/vault-injector/vault-injector/internal/registrytest"
)

// epoch is the tests' SOURCE_DATE_EPOCH.
var epoch = time.Unix(1_700_000_000, 0).UTC()

// options are a build from stand-in binaries and a generated CA bundle.
func options(t *testing.T) image.Options {
	t.Helper()
	return image.Options{
		BinDir:  imagetest.Binaries(t, "amd64"),
		CACerts: imagetest.CABundle(t),
		Version: "v1.2.3",
		Arch:    "amd64",
		Created: epoch,
	}
}

func build(t *testing.T, o image.Options) v1.Image {
	t.Helper()
	img, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// tarFile is what a test checks of one layer entry.
type tarFile struct {
	Path     string
	Dir      bool
	Mode     fs.FileMode
	UID, GID int
	ModTime  time.Time
	Content  string
}

// layerFiles lists a layer's entries in tar order.
func layerFiles(t *testing.T, l v1.Layer) []tarFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []tarFile
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		f := tarFile{Path: hdr.Name, Dir: hdr.Typeflag == tar.TypeDir, Mode: hdr.FileInfo().Mode().Perm() | hdr.FileInfo().Mode()&fs.ModeSticky, UID: hdr.Uid, GID: hdr.Gid, ModTime: hdr.ModTime.UTC(), Content: string(data)}
		out = append(out, f)
	}
}

// TestPushPullBack builds from stand-ins, pushes into a real (in-process, TLS) registry,
// pulls by tag and checks every file of every layer, the config and the platform: what a
// kubelet would run.
func TestPushPullBack(t *testing.T) {
	t.Parallel()
	o := options(t)
	img := build(t, o)
	reg := registrytest.Start(t, "", "")
	transport := remote.WithTransport(reg.Server.Client().Transport)
	pushed, err := image.Push(t.Context(), img, reg.Host+"/vault-injector:v1.2.3", false, transport)
	if err != nil {
		t.Fatal(err)
	}
	if want := reg.Host + "/vault-injector@" + digest(t, img); pushed != want {
		t.Errorf("Push returned %s, want %s", pushed, want)
	}
	ref, err := name.ParseReference(reg.Host + "/vault-injector:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref, transport, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, got) != digest(t, img) {
		t.Fatalf("pulled %s, built %s", digest(t, got), digest(t, img))
	}
	checkManifest(t, got)
	checkLayers(t, got, o.CACerts)
	checkConfig(t, got)
}

func checkManifest(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types: manifest %s, config %s; want OCI", m.MediaType, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer media type %s, want %s", l.MediaType, types.OCILayer)
		}
	}
}

func checkLayers(t *testing.T, img v1.Image, caPath string) {
	t.Helper()
	ca, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want the base files and the binaries", len(layers))
	}
	d := func(path string, mode fs.FileMode) tarFile {
		return tarFile{Path: path, Dir: true, Mode: mode, ModTime: epoch}
	}
	f := func(path string, mode fs.FileMode, content string) tarFile {
		return tarFile{Path: path, Mode: mode, ModTime: epoch, Content: content}
	}
	home := d("home/nonroot/", 0o700)
	home.UID, home.GID = 65532, 65532
	wantBase := []tarFile{
		d("etc/", 0o755),
		f("etc/group", 0o644, "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"),
		f("etc/nsswitch.conf", 0o644, "hosts: files dns\n"),
		f("etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
		d("etc/ssl/", 0o755),
		d("etc/ssl/certs/", 0o755),
		f("etc/ssl/certs/ca-certificates.crt", 0o644, string(ca)),
		d("home/", 0o755),
		home,
		d("tmp/", 0o777|fs.ModeSticky),
	}
	// The stand-ins were written 0600: the image's modes come from the build, not the host.
	standIn := func(name string) string { return string(imagetest.ELF(t, "amd64", false, "stand-in for "+name)) }
	wantBins := []tarFile{
		d("usr/", 0o755),
		d("usr/local/", 0o755),
		d("usr/local/bin/", 0o755),
		f("usr/local/bin/envexec", 0o755, standIn("envexec")),
		f("usr/local/bin/vault-injector", 0o755, standIn("vault-injector")),
	}
	if diff := cmp.Diff(wantBase, layerFiles(t, layers[0])); diff != "" {
		t.Errorf("base layer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBins, layerFiles(t, layers[1])); diff != "" {
		t.Errorf("binaries layer (-want +got):\n%s", diff)
	}
}

func checkConfig(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User:       "65532:65532",
		Entrypoint: []string{"/usr/local/bin/vault-injector"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		WorkingDir: "/home/nonroot",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "vault-injector",
			"org.opencontainers.image.description": "Kubernetes admission webhook that injects Vault secrets into pods",
			"org.opencontainers.image.version":     "v1.2.3",
			"org.opencontainers.image.licenses":    "Apache-2.0",
		},
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if p := cf.Platform(); p == nil || p.String() != "linux/amd64" {
		t.Errorf("platform %v, want linux/amd64", p)
	}
	if !cf.Created.Equal(epoch) {
		t.Errorf("created %v, want %v", cf.Created.Time, epoch)
	}
	if len(cf.History) != 2 {
		t.Fatalf("%d history entries, want 2", len(cf.History))
	}
	for _, h := range cf.History {
		if !h.Created.Equal(epoch) {
			t.Errorf("history %q created %v, want %v", h.CreatedBy, h.Created.Time, epoch)
		}
	}
}

// TestDeterministic: the digest is a function of the Options and the files' contents
// only. Copies of the binaries with other host modes and times give the same digest; a
// different SOURCE_DATE_EPOCH, version or binary gives a different one, and new binaries
// leave the base layer as it was (nodes keep it cached).
func TestDeterministic(t *testing.T) {
	t.Parallel()
	o := options(t)
	first := build(t, o)

	again := o
	again.BinDir = imagetest.Binaries(t, "amd64")
	for _, name := range image.Binaries {
		path := filepath.Join(again.BinDir, name)
		if err := os.Chmod(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, epoch.Add(time.Hour), epoch.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := digest(t, first), digest(t, build(t, again)); a != b {
		t.Errorf("two builds of the same inputs: %s and %s", a, b)
	}

	later := o
	later.Created = epoch.Add(time.Second)
	if digest(t, build(t, later)) == digest(t, first) {
		t.Error("a different SOURCE_DATE_EPOCH gave the same digest")
	}
	other := o
	other.Version = "v1.2.4"
	if digest(t, build(t, other)) == digest(t, first) {
		t.Error("a different version gave the same digest")
	}

	changed := o
	changed.BinDir = imagetest.Binaries(t, "amd64")
	if err := os.WriteFile(filepath.Join(changed.BinDir, "envexec"), imagetest.ELF(t, "amd64", false, "a newer envexec"), 0o600); err != nil {
		t.Fatal(err)
	}
	firstLayers, newLayers := layerDigests(t, first), layerDigests(t, build(t, changed))
	if firstLayers[0] != newLayers[0] || firstLayers[1] == newLayers[1] {
		t.Errorf("a new envexec: layers %v became %v; want only the binaries layer to change", firstLayers, newLayers)
	}
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// TestBuildRefuses: inputs that would make an image that cannot run, or that lies about
// its platform, fail the build with a message naming the problem.
func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "empty.crt")
	if err := os.WriteFile(notPEM, []byte("# no certificates\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		edit func(t *testing.T, o *image.Options)
		want string
	}{
		"arm64 binaries in an amd64 image": {func(t *testing.T, o *image.Options) { o.BinDir = imagetest.Binaries(t, "arm64") }, "built for EM_AARCH64, the image is for EM_X86_64"},
		"a cgo binary": {func(t *testing.T, o *image.Options) {
			writeBin(t, o.BinDir, "envexec", imagetest.ELF(t, "amd64", true, ""))
		}, "dynamically linked (build with CGO_ENABLED=0)"},
		"not an executable": {func(t *testing.T, o *image.Options) { writeBin(t, o.BinDir, "vault-injector", []byte("#!/bin/sh\n")) }, "not a Linux executable"},
		"a missing binary": {func(t *testing.T, o *image.Options) {
			if err := os.Remove(filepath.Join(o.BinDir, "envexec")); err != nil {
				t.Fatal(err)
			}
		}, "envexec: no such file or directory"},
		"an unknown GOARCH":              {func(_ *testing.T, o *image.Options) { o.Arch = "mips" }, `unsupported GOARCH "mips"`},
		"no CA bundle":                   {func(_ *testing.T, o *image.Options) { o.CACerts = "/nonexistent/ca.crt" }, "Debian's ca-certificates package provides it"},
		"a CA bundle without a PEM cert": {func(_ *testing.T, o *image.Options) { o.CACerts = notPEM }, "holds no PEM certificate"},
		"no version":                     {func(_ *testing.T, o *image.Options) { o.Version = "" }, "no version"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := options(t)
			tc.edit(t, &o)
			_, err := image.Build(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func writeBin(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
