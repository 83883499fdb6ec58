package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/vault-injector/vault-injector/internal/image"
)

// sbomDir is where the SBOMs go in dist: one per binary (NAME.cdx.json) and the image's.
const sbomDir = "sbom"

// imageSBOM is the image's SBOM file name in sbomDir.
const imageSBOM = "image.cdx.json"

// writeSBOMs writes a CycloneDX SBOM of each binary with cyclonedx-gomod, from the module
// list Go embedded in it (what was linked, not what go.mod allows), then the image's,
// and returns their paths, the image's last.
func writeSBOMs(ctx context.Context, o options, img builtImage) ([]string, error) {
	dir := filepath.Join(o.dist, sbomDir)
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // a public release folder
		return nil, err
	}
	var paths []string
	boms := map[string]map[string]any{}
	for _, bin := range image.Binaries {
		out := filepath.Join(dir, bin+".cdx.json")
		// No serial number or timestamp: the same binary gives the same SBOM.
		cmd := exec.CommandContext(ctx, o.cyclonedx, "bin", "-json", "-noserial", "-notimestamp", //nolint:gosec // the tool make passes
			"-version", o.version, "-output", out, filepath.Join(o.binDir(), bin))
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cyclonedx-gomod bin %s: %w: %s", bin, err, b)
		}
		bom, err := readJSON(out)
		if err != nil {
			return nil, err
		}
		boms[bin] = bom
		paths = append(paths, out)
	}
	bom := composeImageSBOM(o, img, boms)
	out := filepath.Join(dir, imageSBOM)
	if err := writeJSON(out, bom); err != nil {
		return nil, err
	}
	return append(paths, out), nil
}

// composeImageSBOM describes the image: the container as the subject, each binary as an
// application at its path with its hash, the CA bundle as a file, and the Go modules of
// both binaries once each (bom-refs must be unique), each binary depending on its own.
func composeImageSBOM(o options, img builtImage, boms map[string]map[string]any) map[string]any {
	var components []any
	var deps []any
	seen := map[string]bool{}
	for _, bin := range image.Binaries {
		binRef := "file:" + image.BinDir + "/" + bin
		var uses []any
		for _, c := range binComponents(boms[bin]) {
			ref, _ := c["bom-ref"].(string)
			if ref == "" {
				continue
			}
			uses = append(uses, ref)
			if !seen[ref] {
				seen[ref] = true
				components = append(components, c)
			}
		}
		components = append(components, map[string]any{
			"type": "application", "bom-ref": binRef, "name": bin, "version": o.version,
			"hashes":     []any{map[string]any{"alg": "SHA-256", "content": img.binaries[bin]}},
			"properties": []any{map[string]any{"name": "path", "value": image.BinDir + "/" + bin}},
		})
		deps = append(deps, map[string]any{"ref": binRef, "dependsOn": uses})
	}
	components = append(components, map[string]any{
		"type": "file", "bom-ref": "file:" + image.CABundle, "name": image.CABundle,
		"description": "CA bundle from the build host's ca-certificates (Debian)",
		"hashes":      []any{map[string]any{"alg": "SHA-256", "content": img.caBundle}},
	})
	return map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
		"metadata": map[string]any{
			"timestamp": o.created.Format(time.RFC3339),
			"component": map[string]any{
				"type": "container", "bom-ref": img.ref, "name": o.imageRepo(), "version": o.version,
				"purl":   fmt.Sprintf("pkg:oci/vault-injector@%s?repository_url=%s&tag=%s", img.digest, o.imageRepo(), o.version),
				"hashes": []any{map[string]any{"alg": "SHA-256", "content": img.digest.Hex}},
			},
			"properties": []any{map[string]any{"name": "base", "value": image.EmulatedBase}},
		},
		"components":   components,
		"dependencies": deps,
	}
}

// binComponents are the main module and the modules of a binary's SBOM.
func binComponents(bom map[string]any) []map[string]any {
	var out []map[string]any
	if md, ok := bom["metadata"].(map[string]any); ok {
		if c, ok := md["component"].(map[string]any); ok {
			out = append(out, c)
		}
	}
	list, _ := bom["components"].([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644) //nolint:gosec // a public release file
}
