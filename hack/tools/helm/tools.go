//go:build tools

// Package tools pins helm; build.sh builds it for the chart tests.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
