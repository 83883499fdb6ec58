package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vault-injector/vault-injector/internal/image"
)

// builtImage is the pushed image: its reference by digest, which everything after names,
// and what went into it.
type builtImage struct {
	ref    string // repo@sha256:…
	digest v1.Hash
	// binaries are the sha256 of each of image.Binaries, caBundle that of the CA bundle.
	binaries map[string]string
	caBundle string
}

// pushImage builds the image as `make image` does (so a rebuild has its digest) and pushes
// it as repo:version; dist/image.txt gets the reference by digest.
func pushImage(ctx context.Context, o options, stdout io.Writer) (builtImage, error) {
	img, err := image.Build(image.Options{
		BinDir: o.binDir(), CACerts: o.caCerts, Version: o.version, Arch: o.arch, Created: o.created,
	})
	if err != nil {
		return builtImage{}, fmt.Errorf("image: %w", err)
	}
	ref, err := image.Push(ctx, img, o.imageRepo()+":"+o.version, o.insecure)
	if err != nil {
		return builtImage{}, err
	}
	d, err := name.NewDigest(ref)
	if err != nil {
		return builtImage{}, fmt.Errorf("image: %w", err)
	}
	hash, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return builtImage{}, fmt.Errorf("image: %w", err)
	}
	out := builtImage{ref: ref, digest: hash, binaries: map[string]string{}}
	for _, b := range image.Binaries {
		if out.binaries[b], err = fileSHA256(filepath.Join(o.binDir(), b)); err != nil {
			return builtImage{}, err
		}
	}
	if out.caBundle, err = fileSHA256(o.caCerts); err != nil {
		return builtImage{}, err
	}
	if err := os.WriteFile(filepath.Join(o.dist, "image.txt"), []byte(ref+"\n"), 0o644); err != nil { //nolint:gosec // a public release file
		return builtImage{}, fmt.Errorf("image: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "image     %s\n", ref)
	return out, err
}
