package main

import (
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: the webhook's own GOGC applies unless the environment names one, which
// the runtime has already applied and which stays.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	if got := setGCPercent(func(string) (string, bool) { return "", false }); got != gcPercent {
		t.Errorf("without GOGC: reported %d, want %d", got, gcPercent)
	}
	if now := debug.SetGCPercent(100); now != gcPercent {
		t.Errorf("without GOGC: GOGC is %d, want %d", now, gcPercent)
	}

	debug.SetGCPercent(50) // as the runtime does for GOGC=50
	env := func(k string) (string, bool) { return "50", k == "GOGC" }
	if got := setGCPercent(env); got != 50 {
		t.Errorf("GOGC=50: reported %d, want 50", got)
	}
	if now := debug.SetGCPercent(100); now != 50 {
		t.Errorf("GOGC=50: GOGC is %d, want 50 kept", now)
	}
}
