package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one directory or regular file of a layer. Its header comes from these fields
// and the build's timestamp only, never from the host file it was read from.
type entry struct {
	// path is relative to / and, for a directory, ends in a slash.
	path string
	// mode is the permission bits, plus 0o1000 for the sticky bit.
	mode     int64
	uid, gid int
	data     []byte
}

func dir(path string, mode int64) entry { return entry{path: path + "/", mode: mode} }

func file(path string, mode int64, data []byte) entry {
	return entry{path: path, mode: mode, data: data}
}

// The account files of distroless' base-files: root, nobody and nonroot (65532), and
// distroless' groups.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
	// nsswitch makes Go's resolver read /etc/hosts before DNS, as distroless' does.
	nsswitch = "hosts: files dns\n"
)

// baseEntries are the files of the distroless base that the binaries use: the accounts
// (so user 65532 has a name and a home), the CA bundle for TLS to registries and Vault,
// and a world-writable sticky /tmp, where the webhook's default --cert-dir lives.
func baseEntries(caBundle []byte) []entry {
	home := dir(strings.TrimPrefix(baseWorkDir, "/"), 0o700)
	home.uid, home.gid = nonrootID, nonrootID
	return []entry{
		dir("etc", 0o755),
		file("etc/group", 0o644, []byte(group)),
		file("etc/nsswitch.conf", 0o644, []byte(nsswitch)),
		file("etc/passwd", 0o644, []byte(passwd)),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file(strings.TrimPrefix(CABundle, "/"), 0o644, caBundle),
		dir("home", 0o755),
		home,
		dir("tmp", 0o1777),
	}
}

// binEntries is the Dockerfile's COPY: each binary in BinDir, 0755, owned by root.
func binEntries(binaries map[string][]byte) []entry {
	rel := strings.TrimPrefix(BinDir, "/")
	out := []entry{dir("usr", 0o755), dir("usr/local", 0o755), dir(rel, 0o755)}
	for _, name := range Binaries {
		out = append(out, file(rel+"/"+name, 0o755, binaries[name]))
	}
	return out
}

// newLayer writes entries sorted by path (so a parent precedes its children and the order
// never depends on how the list was built), every timestamp set to mtime, gzipped once
// into memory at the best compression: users pull this layer on every node.
func newLayer(entries []entry, mtime time.Time) (v1.Layer, error) {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := writeEntry(tw, e, mtime); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer gzip: %w", err)
	}
	compressed := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer digest: %w", err)
	}
	return layer, nil
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	hdr := &tar.Header{
		Name:     e.path,
		Mode:     e.mode,
		Uid:      e.uid,
		Gid:      e.gid,
		ModTime:  mtime,
		Typeflag: tar.TypeReg,
		Size:     int64(len(e.data)),
		// USTAR holds everything here (short names, whole seconds, small ids) and has no
		// access or change times that PAX could add.
		Format: tar.FormatUSTAR,
	}
	if strings.HasSuffix(e.path, "/") {
		hdr.Typeflag, hdr.Size = tar.TypeDir, 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if _, err := tw.Write(e.data); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	return nil
}
