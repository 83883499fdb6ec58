package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Attestation types, as cosign names them for --type; verify-attestation takes the same.
const (
	sbomType       = "cyclonedx"
	provenanceType = "slsaprovenance1"
)

// cosignRunner runs cosign with a key pair and no transparency log or timestamp authority:
// a local release has no Sigstore services to reach, and cosign must not try (the
// signing config names none, the trusted root is empty, so nothing leaves the machine
// but the registry traffic). A CI release signs keyless instead (docs/release.md).
type cosignRunner struct {
	bin, key  string
	insecure  bool
	configDir string
}

func newCosign(ctx context.Context, o options) (*cosignRunner, error) {
	dir, err := os.MkdirTemp("", "release-cosign-")
	if err != nil {
		return nil, err
	}
	c := &cosignRunner{bin: o.cosign, key: o.key, insecure: o.insecure, configDir: dir}
	if err := c.run(ctx, "signing-config", "create", "--out", c.signingConfig()); err != nil {
		return nil, err
	}
	return c, c.run(ctx, "trusted-root", "create", "--out", c.trustedRoot())
}

func (c *cosignRunner) signingConfig() string {
	return filepath.Join(c.configDir, "signing-config.json")
}

func (c *cosignRunner) trustedRoot() string { return filepath.Join(c.configDir, "trusted-root.json") }

// signArgs are the flags every signing command takes.
func (c *cosignRunner) signArgs() []string {
	args := []string{"--key", c.key, "--signing-config", c.signingConfig(), "--trusted-root", c.trustedRoot(), "--yes"}
	if c.insecure {
		args = append(args, "--allow-http-registry")
	}
	return args
}

func (c *cosignRunner) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, c.bin, args...) //nolint:gosec // the tool make passes
	cmd.Env = os.Environ()                          // COSIGN_PASSWORD, registry credentials
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cosign %s: %w: %s", args[0], err, out)
	}
	return nil
}

// signAndAttest signs the image by digest, attaches each SBOM and the provenance as signed
// in-toto attestations (OCI referrers of the image), and writes the public key to dist.
func signAndAttest(ctx context.Context, o options, ref string, sboms []string, prov string, stdout io.Writer) error {
	c, err := newCosign(ctx, o)
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(c.configDir) }()
	if err := c.run(ctx, append(append([]string{"sign"}, c.signArgs()...), ref)...); err != nil {
		return err
	}
	attest := func(typ, predicate string) error {
		return c.run(ctx, append(append([]string{"attest", "--type", typ, "--predicate", predicate}, c.signArgs()...), ref)...)
	}
	for _, s := range sboms {
		if err := attest(sbomType, s); err != nil {
			return err
		}
	}
	if err := attest(provenanceType, prov); err != nil {
		return err
	}
	if err := c.run(ctx, "public-key", "--key", o.key, "--outfile", filepath.Join(o.dist, "cosign.pub")); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "signed    %s (%d SBOMs and the provenance attested)\n", ref, len(sboms))
	return err
}
