//go:build tools

// Package tools pins the Vault server used by the e2e suite; build.sh builds it.
package tools

import _ "github.com/hashicorp/vault"
