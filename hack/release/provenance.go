package main

import (
	"debug/buildinfo"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vault-injector/vault-injector/internal/image"
)

// provenanceFile is the SLSA v1 provenance predicate in dist; cosign wraps it in a signed
// in-toto statement whose subject is the image digest.
const provenanceFile = "provenance.slsa.json"

// buildType names how to read this provenance: docs/release.md describes its parameters.
const buildType = "https://github.com/vault-injector/vault-injector/blob/main/docs/release.md#provenance"

// source is the repository the commit belongs to.
const source = "git+https://github.com/vault-injector/vault-injector"

// writeProvenance writes what a rebuild needs to reach the same digest: the commit, the
// build command, the Go toolchain the binaries record, the timestamp and the CA bundle;
// the binaries and SBOMs are byproducts.
func writeProvenance(o options, img builtImage) (string, error) {
	goVersion, err := toolchain(o)
	if err != nil {
		return "", err
	}
	byproducts := []any{}
	for _, bin := range image.Binaries {
		byproducts = append(byproducts, map[string]any{
			"name": image.BinDir + "/" + bin, "digest": map[string]any{"sha256": img.binaries[bin]},
		})
	}
	pred := map[string]any{
		"buildDefinition": map[string]any{
			"buildType": buildType,
			"externalParameters": map[string]any{
				"command": o.command, "version": o.version, "registry": o.registry,
				"source": map[string]any{"uri": source, "commit": o.commit},
			},
			"internalParameters": map[string]any{
				"goVersion": goVersion, "platform": "linux/" + o.arch,
				"sourceDateEpoch": o.created.Unix(),
				"goBuild":         "make build (GOENV=off GOFLAGS= CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-s -w -buildid=)",
			},
			"resolvedDependencies": []any{
				map[string]any{"uri": source + "@" + o.version, "digest": map[string]any{"gitCommit": o.commit}},
				map[string]any{"uri": "https://go.dev/dl/" + goVersion, "name": "go toolchain"},
				map[string]any{"name": image.CABundle, "digest": map[string]any{"sha256": img.caBundle}},
			},
		},
		"runDetails": map[string]any{
			"builder":    map[string]any{"id": "https://github.com/vault-injector/vault-injector/tree/main/hack/release"},
			"metadata":   map[string]any{"invocationId": o.version + "@" + o.commit},
			"byproducts": byproducts,
		},
	}
	path := filepath.Join(o.dist, provenanceFile)
	return path, writeJSON(path, pred)
}

// toolchain is the Go version both binaries were built with; they must agree, since the
// provenance names one.
func toolchain(o options) (string, error) {
	var versions []string
	for _, bin := range image.Binaries {
		bi, err := buildinfo.ReadFile(filepath.Join(o.binDir(), bin))
		if err != nil {
			return "", fmt.Errorf("build info of %s: %w", bin, err)
		}
		versions = append(versions, bi.GoVersion)
	}
	for _, v := range versions[1:] {
		if v != versions[0] {
			return "", fmt.Errorf("the binaries were built with different Go versions: %s", strings.Join(versions, ", "))
		}
	}
	return versions[0], nil
}
