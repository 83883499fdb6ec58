//go:build tools

// Package tools pins cosign, which signs the release image and attaches its SBOM and
// provenance attestation; build.sh builds it for `make release` and the release tests.
package tools

import _ "github.com/sigstore/cosign/v3/cmd/cosign"
