package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.want.yaml")

func noEnv(string) (string, bool) { return "", false }

// TestMutateWorkloads runs `vault-injector mutate -f` on a file of mixed objects and
// compares the output with a golden file.
func TestMutateWorkloads(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	args := []string{"mutate", "-f", filepath.Join("testdata", "workloads.yaml"), "--injector-image=registry.example/vault-injector:v1", "--vault-addr=https://vault.example:8200"}
	if err := run(t.Context(), args, noEnv, nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	want := filepath.Join("testdata", "workloads.want.yaml")
	if *update {
		if err := os.WriteFile(want, stdout.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(b), stdout.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestMutateErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		stdin string
		want  []string
	}{
		"no command": {
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - {name: c, image: i, env: [{name: X, value: 'vault:a/b#c'}]}\n",
			[]string{"document 1", `pod "ns/p"`, `container "c"`, "no command"},
		},
		"bad yaml": {"kind: [\n", []string{"document 1", "parse YAML"}},
		"second doc": {
			"kind: ConfigMap\n---\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, command: [x], env: [{name: X, value: 'vault:a/b'}]}\n",
			[]string{"document 2", `env "X"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"mutate"}, noEnv, strings.NewReader(tc.stdin), &stdout, &stderr)
			if err == nil {
				t.Fatalf("no error; output:\n%s", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("printed output despite the error:\n%s", stdout.String())
			}
		})
	}
}

// TestMutateShowsInjectorWarnings: warnings the injector raises (a malformed reference let
// through under --malformed-references=warn) reach stderr, as they reach kubectl through
// the webhook, and the pod is still printed mutated.
func TestMutateShowsInjectorWarnings(t *testing.T) {
	t.Parallel()
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n" +
		"  - {name: c, image: i, command: [/app], env: [{name: DB, value: 'vault:secret/data/db'}]}\n"
	var stdout, stderr bytes.Buffer
	args := []string{"mutate", "--injector-image=registry.example/vault-injector:v1", "--vault-addr=https://vault.example:8200", "--malformed-references=warn"}
	if err := run(t.Context(), args, noEnv, strings.NewReader(pod), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"warning: document 1: ", `pod "ns/p": container "c": env "DB": invalid vault reference`, "the container will fail to start"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	}
	if !strings.Contains(stdout.String(), "/vault-injector/envexec") {
		t.Errorf("pod not mutated:\n%s", stdout.String())
	}
}
