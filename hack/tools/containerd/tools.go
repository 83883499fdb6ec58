//go:build tools

// Package tools pins containerd and its runc shim for the e2e node; build.sh builds them
// with the tags that drop the btrfs, devmapper and zfs snapshotters (cgo-only, unused).
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
)
