package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// ReleaseVersion is the version of the release the suite publishes: a SemVer pre-release,
// as `make release` demands.
const ReleaseVersion = "v0.0.0-e2e"

// Release is what `make release` published from this tree to a registry: the image and
// the chart by digest, signed with a key made for the run, with the SBOMs and provenance
// attached. Clusters install it only after VerifyRelease accepts it.
type Release struct {
	// Dist is the release's folder (binaries, SBOMs, provenance, chart archive, SHA256SUMS).
	Dist string
	// Image and Chart are host:port/path@sha256:… as image.txt and chart.txt name them.
	Image, Chart string
	// PublicKey verifies both; Commit is the commit the provenance must name.
	PublicKey, Commit string
	// Cosign is the cosign binary the release was signed with.
	Cosign string
}

// ChartVersion is the chart's version in the release: the version without its v.
func (r Release) ChartVersion() string { return strings.TrimPrefix(ReleaseVersion, "v") }

// PublishRelease runs `make release` from root as a maintainer would, with a cosign key
// pair made in dir, into dir/dist and registry/e2e (plain HTTP).
func PublishRelease(ctx context.Context, root, dir, registry string) (Release, error) {
	r := Release{Dist: filepath.Join(dir, "dist")}
	var err error
	if r.Cosign, err = tools.Cosign(ctx, nil); err != nil {
		return r, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	env := append(os.Environ(), "COSIGN_PASSWORD="+hex.EncodeToString(secret))
	prefix := filepath.Join(dir, "release-signing")
	if _, err := runTool(ctx, env, "", r.Cosign, "generate-key-pair", "--output-key-prefix", prefix); err != nil {
		return r, err
	}
	r.PublicKey = prefix + ".pub"
	commit, err := runTool(ctx, env, root, "git", "rev-parse", "HEAD")
	if err != nil {
		return r, err
	}
	r.Commit = strings.TrimSpace(commit)
	if _, err := runTool(ctx, env, root, "make", "release", "VERSION="+ReleaseVersion, "DIST="+r.Dist,
		"REGISTRY="+registry+"/e2e", "INSECURE=1", "COSIGN_KEY="+prefix+".key", "COMMIT="+r.Commit); err != nil {
		return r, err
	}
	for file, ref := range map[string]*string{"image.txt": &r.Image, "chart.txt": &r.Chart} {
		b, err := os.ReadFile(filepath.Join(r.Dist, file))
		if err != nil {
			return r, fmt.Errorf("release: %w", err)
		}
		*ref = strings.TrimSpace(string(b))
	}
	return r, nil
}

// VerifyRelease is the check docs/install.md asks of a platform team before it installs:
// the image and the chart carry a signature that publicKey verifies, and the image a
// signed SLSA provenance whose subject is the image's digest and whose source is the
// release's commit. Any other image, key or provenance is an error.
func VerifyRelease(ctx context.Context, r Release, publicKey string) error {
	root := filepath.Join(r.Dist, "..", "empty-trusted-root.json")
	// A key-signed release has no transparency log; an empty trusted root keeps cosign
	// from fetching Sigstore's over the network.
	if _, err := runTool(ctx, nil, "", r.Cosign, "trusted-root", "create", "--out", root); err != nil {
		return err
	}
	verify := func(args ...string) (string, error) {
		args = append(args, "--key", publicKey, "--insecure-ignore-tlog", "--trusted-root", root, "--allow-http-registry")
		return runTool(ctx, nil, "", r.Cosign, args...)
	}
	for _, ref := range []string{r.Image, r.Chart} {
		if _, err := verify("verify", ref); err != nil {
			return fmt.Errorf("signature of %s: %w", ref, err)
		}
	}
	out, err := verify("verify-attestation", "--type", "slsaprovenance1", r.Image)
	if err != nil {
		return fmt.Errorf("provenance of %s: %w", r.Image, err)
	}
	return checkProvenance(out, r)
}

// checkProvenance reads cosign's verified envelopes (one JSON object per line): one must
// be an in-toto statement about exactly the image's digest, from the release's commit.
func checkProvenance(out string, r Release) error {
	_, digest, _ := strings.Cut(r.Image, "@sha256:")
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var env struct{ Payload string }
		if err := dec.Decode(&env); err == io.EOF {
			return fmt.Errorf("provenance of %s: no statement about sha256:%s from commit %s", r.Image, digest, r.Commit)
		} else if err != nil {
			return fmt.Errorf("provenance of %s: %w", r.Image, err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return fmt.Errorf("provenance of %s: %w", r.Image, err)
		}
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			Predicate struct {
				BuildDefinition struct {
					ExternalParameters struct {
						Source struct {
							Commit string `json:"commit"`
						} `json:"source"`
					} `json:"externalParameters"`
				} `json:"buildDefinition"`
			} `json:"predicate"`
		}
		if err := json.Unmarshal(payload, &st); err != nil {
			return fmt.Errorf("provenance of %s: %w", r.Image, err)
		}
		if len(st.Subject) == 1 && st.Subject[0].Digest["sha256"] == digest &&
			st.Predicate.BuildDefinition.ExternalParameters.Source.Commit == r.Commit {
			return nil
		}
	}
}

// runTool runs bin in dir (the current folder when empty) with env (the process's when nil)
// and returns its stdout; on failure the error carries both outputs.
func runTool(ctx context.Context, env []string, dir, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), args[0], err,
			tail(append(stdout.Bytes(), stderr.Bytes()...), 4096))
	}
	return stdout.String(), nil
}
