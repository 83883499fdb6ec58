package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps envexec tiny: every non-standard package in the binary must be
// listed in deps.txt, and every listed package must still be needed.
func TestDependencies(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := lines(string(out))
	allow, err := os.ReadFile("deps.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := lines(string(allow))
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("envexec depends on %s, which deps.txt does not allow", p)
		}
	}
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("deps.txt allows %s, which envexec no longer uses: remove it", p)
		}
	}
}

// lines returns the non-empty, non-comment lines, sorted.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}
