package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/vault-injector/vault-injector/internal/image"
)

// options are the command line; make passes every one of them.
type options struct {
	version, commit string
	created         time.Time
	// registry is where the release goes: host[:port][/path]; the image is
	// registry/vault-injector:version, the chart oci://registry/charts/vault-injector.
	registry string
	insecure bool
	arch     string
	// dist holds the binaries (dist/bin/linux_ARCH, from make build) and gets the rest.
	dist    string
	caCerts string
	chart   string
	// key is the cosign private key; cosign reads its password from COSIGN_PASSWORD.
	key string
	// command is the build command the provenance names.
	command                 string
	cosign, cyclonedx, helm string
}

// semver is a release version: v, then MAJOR.MINOR.PATCH and an optional pre-release, as
// both an image tag and (without the v) a chart version accept it.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// commitRE is a full git commit: the provenance names the source exactly.
var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.version, "version", "", "the release, vMAJOR.MINOR.PATCH[-PRE]: image tag, chart appVersion (chart version without the v)")
	fs.StringVar(&o.commit, "commit", "", "the full git commit the binaries were built from")
	epoch := fs.String("source-date-epoch", "", "Unix time of every timestamp (the commit's time)")
	fs.StringVar(&o.registry, "registry", "", "registry and path to publish to, host[:port][/path]")
	fs.BoolVar(&o.insecure, "insecure", false, "plain HTTP to the registry (a local one)")
	fs.StringVar(&o.arch, "arch", "amd64", "GOARCH of the binaries; the image is linux/ARCH")
	fs.StringVar(&o.dist, "dist", "dist", "output folder; dist/bin/linux_ARCH holds the binaries of make build")
	fs.StringVar(&o.caCerts, "ca-certs", image.CABundle, "CA bundle for the image")
	fs.StringVar(&o.chart, "chart", "charts/vault-injector", "the Helm chart to package")
	fs.StringVar(&o.key, "key", "", "cosign private key (its password in COSIGN_PASSWORD)")
	fs.StringVar(&o.command, "command", "", "the build command, for the provenance")
	fs.StringVar(&o.cosign, "cosign", "cosign", "cosign binary")
	fs.StringVar(&o.cyclonedx, "cyclonedx-gomod", "cyclonedx-gomod", "cyclonedx-gomod binary")
	fs.StringVar(&o.helm, "helm", "helm", "helm binary")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.check(*epoch)
}

// check refuses a release that could not be reproduced or verified: a version that is not
// a SemVer tag, an abbreviated or missing commit, no timestamp, no registry or no key.
func (o *options) check(epoch string) error {
	var errs []error
	if !semver.MatchString(o.version) {
		errs = append(errs, fmt.Errorf("-version %q is not vMAJOR.MINOR.PATCH[-PRE]", o.version))
	}
	if !commitRE.MatchString(o.commit) {
		errs = append(errs, fmt.Errorf("-commit %q is not a full git commit (a dirty or copied tree cannot be released)", o.commit))
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		errs = append(errs, fmt.Errorf("-source-date-epoch %q is not a Unix time in seconds", epoch))
	}
	o.created = time.Unix(secs, 0).UTC()
	if _, err := name.NewRepository(o.imageRepo(), name.StrictValidation); o.registry == "" || err != nil || strings.Contains(o.registry, "://") {
		errs = append(errs, fmt.Errorf("-registry %q is not host[:port][/path]", o.registry))
	}
	if o.key == "" {
		errs = append(errs, errors.New("-key: no cosign private key (cosign generate-key-pair makes one)"))
	}
	if o.command == "" {
		errs = append(errs, errors.New("-command: no build command for the provenance"))
	}
	return errors.Join(errs...)
}

// imageRepo is where the image goes, and chartRepo the OCI repository helm pushes to.
func (o options) imageRepo() string { return strings.TrimSuffix(o.registry, "/") + "/vault-injector" }

func (o options) chartRepo() string {
	return "oci://" + strings.TrimSuffix(o.registry, "/") + "/charts"
}

// chartVersion is the version without its v: Helm wants SemVer.
func (o options) chartVersion() string { return strings.TrimPrefix(o.version, "v") }

func (o options) binDir() string { return filepath.Join(o.dist, "bin", "linux_"+o.arch) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	return release(ctx, o, stdout)
}

// release runs the steps in order; each writes its files into dist before the next starts,
// and the checksums come last so that they cover everything.
func release(ctx context.Context, o options, stdout io.Writer) error {
	if err := clearDist(o.dist); err != nil {
		return err
	}
	img, err := pushImage(ctx, o, stdout)
	if err != nil {
		return err
	}
	sboms, err := writeSBOMs(ctx, o, img)
	if err != nil {
		return fmt.Errorf("sbom: %w", err)
	}
	prov, err := writeProvenance(o, img)
	if err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	if err := signAndAttest(ctx, o, img.ref, sboms, prov, stdout); err != nil {
		return fmt.Errorf("cosign: %w", err)
	}
	if err := publishChart(ctx, o, stdout); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	n, err := writeChecksums(o.dist)
	if err != nil {
		return fmt.Errorf("checksums: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "checksums %s (%d files)\n", filepath.Join(o.dist, sumsFile), n)
	return err
}

// clearDist removes what an earlier release left in dist, keeping the binaries make just
// built; anything not written by a release is refused rather than deleted.
func clearDist(dist string) error {
	entries, err := os.ReadDir(dist)
	if err != nil {
		return fmt.Errorf("dist: %w (make build writes the binaries there first)", err)
	}
	for _, e := range entries {
		if e.Name() == "bin" {
			continue
		}
		if !releaseFile(e.Name()) {
			return fmt.Errorf("dist: %s holds %s, which a release does not write; not deleting it", dist, e.Name())
		}
		if err := os.RemoveAll(filepath.Join(dist, e.Name())); err != nil {
			return fmt.Errorf("dist: %w", err)
		}
	}
	return nil
}

func releaseFile(name string) bool {
	switch name {
	case sumsFile, "sbom", provenanceFile, "image.txt", "chart.txt", "cosign.pub":
		return true
	}
	return strings.HasPrefix(name, "vault-injector-") && strings.HasSuffix(name, ".tgz")
}
