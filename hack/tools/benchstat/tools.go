//go:build tools

// Package tools pins benchstat, which summarises `make bench`'s repeated Go benchmark
// runs; build.sh builds it.
package tools

import _ "golang.org/x/perf/cmd/benchstat"
