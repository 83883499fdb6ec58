//go:build tools

// Package tools pins etcd for envtest; build.sh builds it.
package tools

import _ "go.etcd.io/etcd/server/v3"
