package envexec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestFindVariables(t *testing.T) {
	t.Parallel()
	env := []string{
		"PATH=/bin",
		"DB=vault:secret/app/db#password",
		"PLAIN=vault",
		settings.EnvPrefix + "ROLE=vault:not/a#ref",
		"NOEQUALS",
		"URL=postgres://${vault:secret/app/db#user}:${bao:secret/app/db#password}@db/${HOME}",
		"DB=vault:kv1/x#y",
		"LITERAL=${HOME} $${x} vault:in-text",
	}
	vars, err := findVariables(env)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vars {
		got = append(got, fmt.Sprintf("%d %s %d %s", v.index, v.name, len(v.tmpl.Refs), v.tmpl))
	}
	want := []string{
		"1 DB 1 vault:secret/app/db#password",
		"5 URL 2 postgres://${vault:secret/app/db#user}:${bao:secret/app/db#password}@db/${HOME}",
		"6 DB 1 vault:kv1/x#y",
	}
	if !slices.Equal(got, want) {
		t.Errorf("variables =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFindVariablesMalformed(t *testing.T) {
	t.Parallel()
	_, err := findVariables([]string{"A=vault:secret/x", "B=fine ${x}", "C=x${vault:#k}", "D=vault:p#k#v2", "E=${bao:a#b"})
	if err == nil {
		t.Fatal("no error")
	}
	if exitCode(err) != ExitSettings {
		t.Errorf("exit code %d, want %d", exitCode(err), ExitSettings)
	}
	for _, v := range []string{"variable A:", "variable C:", "variable D:", "variable E:"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if strings.Contains(err.Error(), "variable B") {
		t.Errorf("error %q names a plain variable", err)
	}
}

func TestFindArguments(t *testing.T) {
	t.Parallel()
	argv := []string{
		"/bin/sh", "-c", `exec app "$1"`, "vault:secret/app/db#password",
		"--url=postgres://${vault:secret/app/db#user}:${bao:secret/app/db#password}@db/app",
		"${HOME} $(VAR) vault:in-text", "vault",
	}
	args, err := findArguments(argv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range args {
		got = append(got, fmt.Sprintf("%d %s %v %d", a.index, a.name, a.arg, len(a.tmpl.Refs)))
	}
	want := []string{"3 argv[3] true 1", "4 argv[4] true 2"}
	if !slices.Equal(got, want) {
		t.Errorf("arguments = %q, want %q", got, want)
	}

	_, err = findArguments([]string{"vault:x#y", "ok", "--pw=${vault:secret/x}", "${bao:a#b"})
	if exitCode(err) != ExitSettings {
		t.Fatalf("exit code %d, want %d (%v)", exitCode(err), ExitSettings, err)
	}
	for _, w := range []string{"argument argv[2]: ", "argument argv[3]: "} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
	if strings.Contains(err.Error(), "argv[0]") || strings.Contains(err.Error(), "argv[1]") || strings.Contains(err.Error(), "variable") {
		t.Errorf("error %q names a good argument", err)
	}
}

func TestBuildArgv(t *testing.T) {
	t.Parallel()
	argv := []string{"app", "vault:a#b", "plain"}
	got, err := buildArgv(argv, resolved{args: map[int]string{1: "value"}})
	if err != nil || !slices.Equal(got, []string{"app", "value", "plain"}) {
		t.Errorf("buildArgv = %q, %v", got, err)
	}
	if _, err := buildArgv(argv, resolved{}); exitCode(err) != ExitSettings || !strings.Contains(err.Error(), "argv[1]") {
		t.Errorf("an unresolved argument: %v", err)
	}
}

func TestRefErrorNamesVariablesAndArguments(t *testing.T) {
	t.Parallel()
	e := &refError{path: "secret/x", err: errMissing}
	for _, v := range []variable{{name: "A"}, {name: "argv[2]", arg: true}, {name: "A"}, {name: "B"}, {name: "argv[2]", arg: true}} {
		e.add(v)
	}
	if got, want := e.Error(), `variables A, B and argument argv[2]: vault path "secret/x": secret not found`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCheckPolicy(t *testing.T) {
	t.Parallel()
	vars, err := findVariables([]string{"TOKEN=vault:login", "CT=x ${vault:v1:aGk=}", "OK=vault:a#b"})
	if err != nil {
		t.Fatal(err)
	}
	err = checkPolicy(vars, settings.Settings{})
	if exitCode(err) != ExitSettings || !strings.Contains(err.Error(), "variable TOKEN: ") || !strings.Contains(err.Error(), settings.EnvAllowLogin) ||
		!strings.Contains(err.Error(), "variable CT: ") || !strings.Contains(err.Error(), settings.EnvTransitKey) || strings.Contains(err.Error(), "variable OK") {
		t.Errorf("checkPolicy = %v", err)
	}
	if err := checkPolicy(vars, settings.Settings{AllowLogin: true, TransitKey: "k"}); err != nil {
		t.Errorf("checkPolicy with both allowed = %v", err)
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

func TestUnwrapKV2(t *testing.T) {
	t.Parallel()
	if _, err := unwrapKV2(map[string]any{"data": nil, "metadata": map[string]any{}}); !errors.Is(err, errMissing) {
		t.Errorf("deleted version: %v, want a missing-secret error", err)
	}
	if got, err := unwrapKV2(map[string]any{"data": map[string]any{"k": "v"}}); err != nil || got["k"] != "v" {
		t.Errorf("unwrapKV2 = %v, %v", got, err)
	}
}

func TestCompactBody(t *testing.T) {
	t.Parallel()
	if a, b := compactBody(`{ "common_name": "x",  "ttl": "1h" }`), compactBody(`{"common_name":"x","ttl":"1h"}`); a != b {
		t.Errorf("equal bodies differ: %s vs %s", a, b)
	}
	if compactBody("") != "{}" {
		t.Error(`empty body is not "{}"`)
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
		"missing":     {fmt.Errorf("%w: x", errMissing), ExitSecret},
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

func TestShareMounts(t *testing.T) {
	t.Parallel()
	ops := func(keys ...string) []*call[mountInfo] {
		var out []*call[mountInfo]
		for _, k := range keys {
			out = append(out, &call[mountInfo]{key: k, path: k})
		}
		return out
	}
	all := ops("secret/a", "secret/b/c", "team/kv/x", "team/other/y", "secret", "nomount/z", "nomount/w")
	first, rest := splitByFirstSegment(all)
	if len(first) != 3 || first[0].key != "secret/a" || first[1].key != "team/kv/x" || first[2].key != "nomount/z" {
		t.Fatalf("first = %v", first)
	}
	first[0].val = mountInfo{path: "secret/", kind: "kv", version: 2}
	first[1].val = mountInfo{path: "team/kv/", kind: "kv", version: 1}
	first[2].val = mountInfo{} // 404: unknown mount, nothing to share
	var pending []string
	for _, m := range shareMounts(first, rest) {
		pending = append(pending, m.key)
	}
	if want := []string{"team/other/y", "nomount/w"}; !slices.Equal(pending, want) {
		t.Errorf("pending = %v, want %v", pending, want)
	}
	if rest[0].val.path != "secret/" || rest[2].val.path != "secret/" {
		t.Errorf("secret/b/c and secret did not share the secret/ mount: %+v", rest)
	}
}

func TestHoldsToken(t *testing.T) {
	t.Parallel()
	const tok = "hvs.CAESIJ0123456789abcdef"
	answer := map[string]any{"data": map[string]any{"keys": []any{"a", map[string]any{"deep": "x" + tok + "y"}}}}
	for _, c := range []struct {
		v     any
		token string
		want  bool
	}{
		{answer, tok, true},
		{map[string]any{"id": tok}, tok, true},
		{map[string]any{"id": "hvs.other"}, tok, false},
		{map[string]any{"n": 42.0, "b": true}, tok, false},
		{map[string]any{"password": "grassroots"}, "root", false}, // a dev token is matched whole only
		{map[string]any{"id": "root"}, "root", true},
		{map[string]any{"id": ""}, "", false},
	} {
		if got := holdsToken(c.v, c.token); got != c.want {
			t.Errorf("holdsToken(%v, %q) = %v, want %v", c.v, c.token, got, c.want)
		}
	}
}
