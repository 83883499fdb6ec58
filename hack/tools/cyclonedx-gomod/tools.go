//go:build tools

// Package tools pins cyclonedx-gomod, which writes the CycloneDX SBOM of each binary
// from its embedded build information; build.sh builds it for `make release`.
package tools

import _ "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod"
