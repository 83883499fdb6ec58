package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vault-injector/vault-injector/internal/image"
)

// options are the command line.
type options struct {
	build    image.Options
	layout   string
	push     string
	insecure bool
}

func parse(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.build.BinDir, "bin-dir", "bin", "directory holding the built vault-injector and envexec")
	fs.StringVar(&o.build.Arch, "arch", "amd64", "GOARCH the binaries were built for; the image is for linux/ARCH")
	fs.StringVar(&o.build.Version, "version", "dev", "the org.opencontainers.image.version label, and the tag in the OCI layout")
	fs.StringVar(&o.build.CACerts, "ca-certs", image.CABundle, "CA bundle to install at "+image.CABundle+" (the build host's, from Debian's ca-certificates)")
	epoch, _ := lookupEnv("SOURCE_DATE_EPOCH")
	fs.StringVar(&epoch, "source-date-epoch", epoch, "Unix time of every timestamp in the image (default $SOURCE_DATE_EPOCH; make passes the commit time)")
	fs.StringVar(&o.layout, "oci-layout", "bin/image", "write the image as an OCI image layout into this directory (empty: do not)")
	fs.StringVar(&o.push, "push", "", "also push the image to this reference, host[:port]/name:tag")
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to the -push registry (a local one)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if epoch == "" {
		return o, errors.New("no SOURCE_DATE_EPOCH: set it or -source-date-epoch (the image has no build-time clock)")
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		return o, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a Unix time in seconds", epoch)
	}
	o.build.Created = time.Unix(secs, 0).UTC()
	return o, nil
}

func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	o, err := parse(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	return build(ctx, o, stdout)
}

// build makes the image, writes and pushes it as asked, and reports its digest and size.
func build(ctx context.Context, o options, stdout io.Writer) error {
	img, err := image.Build(o.build)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	size, err := image.Size(img)
	if err != nil {
		return fmt.Errorf("size: %w", err)
	}
	_, _ = fmt.Fprintf(stdout, "image   linux/%s %s\ndigest  %s\nsize    %d bytes (%.1f MiB compressed)\n",
		o.build.Arch, o.build.Version, digest, size, float64(size)/(1<<20))
	if o.layout != "" {
		if err := image.WriteLayout(o.layout, img, o.build.Version); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		_, _ = fmt.Fprintf(stdout, "layout  %s\n", o.layout)
	}
	if o.push != "" {
		pushed, err := image.Push(ctx, img, o.push, o.insecure)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		_, _ = fmt.Fprintf(stdout, "pushed  %s\n", pushed)
	}
	return nil
}
