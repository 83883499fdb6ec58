package main

import (
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: the webhook's own GOGC applies unless the environment names one, which
// the runtime has already applied and which stays, "off" included.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	if got := setGCPercent(func(string) (string, bool) { return "", false }); got != "200" {
		t.Errorf("without GOGC: reported %s, want 200", got)
	}
	if now := debug.SetGCPercent(100); now != gcPercent {
		t.Errorf("without GOGC: GOGC is %d, want %d", now, gcPercent)
	}

	for _, tc := range []struct {
		env     string
		applied int // what the runtime made of it at start
		want    string
	}{{"50", 50, "50"}, {"off", -1, "off"}, {"", 100, "100"}, {"fifty", 100, "100"}} {
		debug.SetGCPercent(tc.applied)
		env := func(k string) (string, bool) { return tc.env, k == "GOGC" }
		if got := setGCPercent(env); got != tc.want {
			t.Errorf("GOGC=%q: reported %s, want %s", tc.env, got, tc.want)
		}
		if now := debug.SetGCPercent(100); now != tc.applied {
			t.Errorf("GOGC=%q: GOGC is %d, want %d kept", tc.env, now, tc.applied)
		}
	}
}

// TestSetMemoryLimit: 90% of the container's limit unless GOMEMLIMIT is set; no limit
// known leaves the runtime's as it is.
func TestSetMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	none := func(string) (string, bool) { return "", false }

	if got := setMemoryLimit(256<<20, none); got != 241591910 { // 0.9 × 256 MiB, rounded down
		t.Errorf("limit 256Mi: %d, want 241591910", got)
	}
	debug.SetMemoryLimit(100 << 20) // as the runtime does for GOMEMLIMIT=100MiB
	if got := setMemoryLimit(256<<20, func(k string) (string, bool) { return "100MiB", k == "GOMEMLIMIT" }); got != 100<<20 {
		t.Errorf("GOMEMLIMIT=100MiB: %d, want it kept", got)
	}
	if got := setMemoryLimit(0, none); got != 100<<20 {
		t.Errorf("no container limit: %d, want the runtime's unchanged", got)
	}
}
