package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
)

// defaultRepository is the values.yaml line a release rewrites, so the packaged chart
// deploys the image of this release by default.
var defaultRepository = regexp.MustCompile(`(?m)^  repository: ghcr\.io/vault-injector/vault-injector$`)

// chartDigest finds the digest in helm push's report.
var chartDigest = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`)

// publishChart packages the chart with the release's version (appVersion = the image
// tag, the chart's default) and its image repository, writes the archive to dist, pushes
// it to REGISTRY/charts and records the pushed reference in dist/chart.txt.
func publishChart(ctx context.Context, o options, stdout io.Writer) error {
	tmp, err := os.MkdirTemp("", "release-chart-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	dir := filepath.Join(tmp, filepath.Base(o.chart))
	// helm package reads .helmignore itself.
	if err := os.CopyFS(dir, os.DirFS(o.chart)); err != nil {
		return err
	}
	values := filepath.Join(dir, "values.yaml")
	b, err := os.ReadFile(values)
	if err != nil {
		return err
	}
	if len(defaultRepository.FindAllIndex(b, -1)) != 1 {
		return fmt.Errorf("%s: no single line %q to point at %s", values, defaultRepository, o.imageRepo())
	}
	b = defaultRepository.ReplaceAll(b, []byte("  repository: "+o.imageRepo()))
	if err := os.WriteFile(values, b, 0o644); err != nil { //nolint:gosec // a public chart
		return err
	}
	if _, err := helm(ctx, o, "package", dir, "--version", o.chartVersion(), "--app-version", o.version, "--destination", o.dist); err != nil {
		return err
	}
	archive := filepath.Join(o.dist, "vault-injector-"+o.chartVersion()+".tgz")
	args := []string{"push", archive, o.chartRepo()}
	if o.insecure {
		args = append(args, "--plain-http")
	}
	out, err := helm(ctx, o, args...)
	if err != nil {
		return err
	}
	m := chartDigest.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("helm push printed no digest: %s", out)
	}
	ref := fmt.Sprintf("%s/vault-injector:%s@%s", o.chartRepo(), o.chartVersion(), m[1])
	if err := os.WriteFile(filepath.Join(o.dist, "chart.txt"), []byte(ref+"\n"), 0o644); err != nil { //nolint:gosec // a public release file
		return err
	}
	_, err = fmt.Fprintf(stdout, "chart     %s\n", ref)
	return err
}

func helm(ctx context.Context, o options, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, o.helm, args...) //nolint:gosec // the tool make passes
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w: %s", args[0], err, out.Bytes())
	}
	return out.Bytes(), nil
}
