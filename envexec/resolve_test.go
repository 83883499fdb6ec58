package envexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/vaultref"
)

func TestFindReferences(t *testing.T) {
	t.Parallel()
	env := []string{
		"PATH=/bin",
		"DB=vault:secret/app/db#password",
		"PLAIN=vault",
		EnvPrefix + "ROLE=vault:not/a#ref",
		"NOEQUALS",
		"PINNED=vault:secret/data/app/db#user#3",
		"DB=vault:kv1/x#y",
	}
	refs, err := findReferences(env)
	if err != nil {
		t.Fatal(err)
	}
	want := []reference{
		{index: 1, variable: "DB", ref: vaultref.Ref{Path: "secret/app/db", Key: "password"}},
		{index: 5, variable: "PINNED", ref: vaultref.Ref{Path: "secret/data/app/db", Key: "user", Version: 3}},
		{index: 6, variable: "DB", ref: vaultref.Ref{Path: "kv1/x", Key: "y"}},
	}
	if !slices.Equal(refs, want) {
		t.Errorf("refs = %+v, want %+v", refs, want)
	}
}

func TestFindReferencesMalformed(t *testing.T) {
	t.Parallel()
	_, err := findReferences([]string{"A=vault:secret/x", "B=fine", "C=vault:#k", "D=vault:p#k#v2"})
	if err == nil {
		t.Fatal("no error")
	}
	if exitCode(err) != ExitSettings {
		t.Errorf("exit code %d, want %d", exitCode(err), ExitSettings)
	}
	for _, v := range []string{"variable A:", "variable C:", "variable D:"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if strings.Contains(err.Error(), "variable B") {
		t.Errorf("error %q names a plain variable", err)
	}
}

func TestAPIPath(t *testing.T) {
	t.Parallel()
	kv2 := mountInfo{path: "secret/", kind: "kv", version: 2}
	nested := mountInfo{path: "team/kv/", kind: "kv", version: 2}
	kv1 := mountInfo{path: "kv1/", kind: "kv", version: 1}
	other := mountInfo{path: "database/", kind: "database"}
	tests := map[string]struct {
		m       mountInfo
		path    string
		version int
		want    string
		wantErr string
	}{
		"kv2 cli path":          {m: kv2, path: "secret/app/db", want: "secret/data/app/db"},
		"kv2 api path":          {m: kv2, path: "secret/data/app/db", want: "secret/data/app/db"},
		"kv2 pinned":            {m: kv2, path: "secret/app/db", version: 2, want: "secret/data/app/db"},
		"kv2 top-level secret":  {m: kv2, path: "secret/db", want: "secret/data/db"},
		"kv2 secret named data": {m: kv2, path: "secret/data", wantErr: "not a secret"},
		"kv2 nested mount":      {m: nested, path: "team/kv/app", want: "team/kv/data/app"},
		"kv2 mount itself":      {m: kv2, path: "secret", wantErr: "not a secret"},
		"kv1":                   {m: kv1, path: "kv1/app/db", want: "kv1/app/db"},
		"kv1 pinned":            {m: kv1, path: "kv1/app/db", version: 1, wantErr: "needs a kv v2 mount"},
		"other engine":          {m: other, path: "database/creds/app", want: "database/creds/app"},
		"unknown mount":         {m: mountInfo{}, path: "x/y", want: "x/y"},
		"unknown mount pinned":  {m: mountInfo{}, path: "x/y", version: 4, wantErr: "unknown mount"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := apiPath(tt.m, tt.path, tt.version)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errReference) {
					t.Fatalf("apiPath = %q, %v; want a reference error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("apiPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		json string
		want string
	}{
		"string":       {`"s3cr<e>t&"`, "s3cr<e>t&"},
		"empty string": {`""`, ""},
		"integer":      {`12345678901234567890`, "12345678901234567890"},
		"float":        {`1.50`, "1.50"},
		"bool":         {`true`, "true"},
		"null":         {`null`, "null"},
		"object":       {`{"b":1,"a":"<x>"}`, `{"a":"<x>","b":1}`},
		"array":        {`[1,"two"]`, `[1,"two"]`},
		"unicode":      {`"pässwörd"`, "pässwörd"},
		"multiline":    {`"line1\nline2"`, "line1\nline2"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dec := json.NewDecoder(strings.NewReader(tt.json))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			got, err := render(v)
			if err != nil || got != tt.want {
				t.Errorf("render(%s) = %q, %v; want %q", tt.json, got, err, tt.want)
			}
		})
	}
}

func TestLookupKey(t *testing.T) {
	t.Parallel()
	data := map[string]any{"user": "u", "password": "canary-lookup"}
	if v, err := lookupKey(data, "user"); err != nil || v != "u" {
		t.Errorf("lookupKey(user) = %q, %v", v, err)
	}
	_, err := lookupKey(data, "pasword")
	if err == nil || !errors.Is(err, errSecret) {
		t.Fatalf("missing key: %v, want a secret error", err)
	}
	if !strings.Contains(err.Error(), `key "pasword" not found`) || !strings.Contains(err.Error(), "password, user") {
		t.Errorf("error %q should name the key and list the keys", err)
	}
	if strings.Contains(err.Error(), "canary-lookup") {
		t.Errorf("error %q leaks a value", err)
	}
	if _, err := unwrapKV2(map[string]any{"data": nil, "metadata": map[string]any{}}); !errors.Is(err, errSecret) {
		t.Errorf("deleted version: %v, want a secret error", err)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want int
	}{
		"nil":         {nil, ExitOK},
		"usage":       {fmt.Errorf("%w: x", errUsage), ExitUsage},
		"settings":    {errSettings, ExitSettings},
		"reference":   {&refError{variables: []string{"A"}, err: errReference}, ExitSettings},
		"login":       {fmt.Errorf("%w: x", errLogin), ExitLogin},
		"secret":      {&refError{variables: []string{"A"}, path: "p", err: errSecret}, ExitSecret},
		"unreachable": {errUnreachable, ExitUnreachable},
		"exec":        {errExec, ExitExec},
		"copy":        {errCopy, ExitCopy},
		"input wins":  {errors.Join(errUnreachable, errSecret, errReference), ExitSettings},
		"unknown":     {errors.New("boom"), 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
