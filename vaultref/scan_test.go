package vaultref_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/vaultref"
)

func field(segs ...string) []string { return segs }

func TestScan(t *testing.T) {
	t.Parallel()
	b64dec := vaultref.Transform{Func: "b64dec"}
	tests := map[string]struct {
		in    string
		want  vaultref.Template
		canon string // String() of the result, when it differs from in
	}{
		"no references": {
			in:   "plain text with $ and ${HOME} and vault: in the middle",
			want: vaultref.Template{Literals: []string{"plain text with $ and ${HOME} and vault: in the middle"}},
		},
		"empty value": {in: "", want: vaultref.Template{Literals: []string{""}}},
		"whole read": {
			in:   "vault:secret/data/db#password",
			want: whole(vaultref.Ref{Path: "secret/data/db", Key: "password"}),
		},
		"whole bao": {
			in:   "bao:secret/db#password#2",
			want: whole(vaultref.Ref{Scheme: vaultref.SchemeBao, Path: "secret/db", Key: "password", Version: 2}),
		},
		"inline in a URL": {
			in: "postgres://app:${vault:secret/data/db#password}@db:5432/app",
			want: vaultref.Template{
				Literals: []string{"postgres://app:", "@db:5432/app"},
				Refs:     []vaultref.Ref{{Path: "secret/data/db", Key: "password"}},
			},
		},
		"several inline with literal ${": {
			in: "${HOME} ${vault:a#user}:${bao:b#pass#3}${ vault:x} $${vault:c#d}",
			want: vaultref.Template{
				Literals: []string{"${HOME} ", ":", "${ vault:x} $", ""},
				Refs: []vaultref.Ref{
					{Path: "a", Key: "user"},
					{Scheme: vaultref.SchemeBao, Path: "b", Key: "pass", Version: 3},
					{Path: "c", Key: "d"},
				},
			},
		},
		"adjacent inline": {
			in: "${vault:a#b}${vault:a#b}",
			want: vaultref.Template{
				Literals: []string{"", "", ""},
				Refs:     []vaultref.Ref{{Path: "a", Key: "b"}, {Path: "a", Key: "b"}},
			},
		},
		"inline only": {
			in:   "${vault:a#b}",
			want: vaultref.Template{Literals: []string{"", ""}, Refs: []vaultref.Ref{{Path: "a", Key: "b"}}},
		},
		"transforms": {
			in: "vault:secret/app#cert | b64dec | json tls.\"key.pem\".0 | trim | b64enc",
			want: whole(vaultref.Ref{Path: "secret/app", Key: "cert", Transforms: []vaultref.Transform{
				b64dec, {Func: "json", Field: field("tls", "key.pem", "0")}, {Func: "trim"}, {Func: "b64enc"},
			}}),
		},
		"transforms inline, loose spacing": {
			in: "x=${vault:s/a#conf  |json  .db.password}",
			want: vaultref.Template{Literals: []string{"x=", ""}, Refs: []vaultref.Ref{{
				Path: "s/a", Key: "conf",
				Transforms: []vaultref.Transform{{Func: "json", Field: field("db", "password")}},
			}}},
			canon: "x=${vault:s/a#conf | json db.password}",
		},
		"version and transform": {
			in:   "vault:s/a#k#7 | b64dec",
			want: whole(vaultref.Ref{Path: "s/a", Key: "k", Version: 7, Transforms: []vaultref.Transform{b64dec}}),
		},
		"key template": {
			in: "vault:secret/data/docker#${.password | b64dec}",
			want: whole(vaultref.Ref{Path: "secret/data/docker", KeyTemplate: []vaultref.KeyPart{
				{Field: "password", Transforms: []vaultref.Transform{b64dec}},
			}}),
		},
		"key template with text, inline": {
			in: "${vault:s/db#${.user}:${ .pass|trim }#2}",
			want: vaultref.Template{Literals: []string{"", ""}, Refs: []vaultref.Ref{{Path: "s/db", Version: 2, KeyTemplate: []vaultref.KeyPart{
				{Field: "user"}, {Text: ":"}, {Field: "pass", Transforms: []vaultref.Transform{{Func: "trim"}}},
			}}}},
			canon: "${vault:s/db#${.user}:${.pass | trim}#2}",
		},
		"write": {
			in: `>>vault:pki/issue/web#certificate#{"common_name":"web.shop.svc","ttl":"1h"}`,
			want: whole(vaultref.Ref{
				Kind: vaultref.Write, Path: "pki/issue/web", Key: "certificate",
				Body: `{"common_name":"web.shop.svc","ttl":"1h"}`,
			}),
		},
		"write inline, body with braces, # and spaces": {
			in: `a ${>>bao:pki/issue/web#private_key#{"common_name": "x}#{", "alt_names": ["a", "b"]} | b64enc} z`,
			want: vaultref.Template{Literals: []string{"a ", " z"}, Refs: []vaultref.Ref{{
				Kind: vaultref.Write, Scheme: vaultref.SchemeBao,
				Path: "pki/issue/web", Key: "private_key", Body: `{"common_name": "x}#{", "alt_names": ["a", "b"]}`,
				Transforms: []vaultref.Transform{{Func: "b64enc"}},
			}}},
		},
		"write without body": {
			in:   ">>vault:database/rotate#ok",
			want: whole(vaultref.Ref{Kind: vaultref.Write, Path: "database/rotate", Key: "ok"}),
		},
		"login": {in: "vault:login", want: whole(vaultref.Ref{Kind: vaultref.Login})},
		"login bao inline": {
			in:   "Bearer ${bao:login}",
			want: vaultref.Template{Literals: []string{"Bearer ", ""}, Refs: []vaultref.Ref{{Kind: vaultref.Login, Scheme: vaultref.SchemeBao}}},
		},
		"login with transform": {
			in:   "vault:login | b64enc",
			want: whole(vaultref.Ref{Kind: vaultref.Login, Transforms: []vaultref.Transform{{Func: "b64enc"}}}),
		},
		"transit": {
			in:   "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w==",
			want: whole(vaultref.Ref{Kind: vaultref.Transit, Ciphertext: "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w=="}),
		},
		"transit inline, key version 12": {
			in:   "k=${vault:v12:aGk=}",
			want: vaultref.Template{Literals: []string{"k=", ""}, Refs: []vaultref.Ref{{Kind: vaultref.Transit, Ciphertext: "vault:v12:aGk="}}},
		},
		"unicode around": {
			in: "ключ=${vault:secret/données#пароль}✓\n",
			want: vaultref.Template{
				Literals: []string{"ключ=", "✓\n"},
				Refs:     []vaultref.Ref{{Path: "secret/données", Key: "пароль"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := vaultref.Scan(tc.in)
			if err != nil {
				t.Fatalf("Scan(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Scan(%q) =\n%#v\nwant\n%#v", tc.in, got, tc.want)
			}
			canon := tc.canon
			if canon == "" {
				canon = tc.in
			}
			if s := got.String(); s != canon {
				t.Errorf("String() = %q, want %q", s, canon)
			}
			if vaultref.HasRefs(tc.in) != (len(got.Refs) > 0) {
				t.Errorf("HasRefs(%q) = %v with %d references", tc.in, vaultref.HasRefs(tc.in), len(got.Refs))
			}
		})
	}
}

func whole(r vaultref.Ref) vaultref.Template {
	return vaultref.Template{Literals: []string{"", ""}, Refs: []vaultref.Ref{r}, Whole: true}
}

func TestScanErrors(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-canary"
	tests := map[string]struct {
		in     string
		offset int
		reason string
	}{
		"unterminated inline":          {"pw=${vault:a#b", 14, `missing "}"`},
		"inline missing key":           {"x ${vault:secret/app} y", 20, `missing "#KEY"`},
		"inline empty path":            {"${bao:#k}", 6, "empty path"},
		"inline dot-dot segment":       {"${vault:secret/a/..#k}", 17, `"." or ".." segments`},
		"from a later dot segment":     {"x=${vault:a/./b#k}", 12, `"." or ".." segments`},
		"inline space":                 {"${vault:a#b }", 11, "whitespace"},
		"inline too many hashes":       {"${vault:a#b#1#2}", 13, "too many"},
		"second inline is bad":         {"${vault:a#b}-" + secret + "-${vault:c}", 13 + len(secret) + 1 + 9, `missing "#KEY"`},
		"newline in path":              {"${vault:a\nb#k}", 9, "whitespace"},
		"body on a read":               {`vault:pki/issue/r#certificate#{"common_name":"x"}`, 30, "needs a write"},
		"write body not an object":     {`>>vault:p#k#["x"]`, 12, "JSON object"},
		"write body invalid JSON":      {`>>vault:p#k#{"a":` + secret + `}`, 17, "not a valid JSON object"},
		"write body unterminated":      {`>>vault:p#k#{"a":"}`, 19, "unterminated"},
		"write then hash":              {`>>vault:p#k#{}#1`, 14, "too many"},
		"write login":                  {`>>vault:login`, 13, `missing "#KEY"`},
		"unknown transform":            {"vault:a#b | upper", 12, "unknown transform; want b64dec, b64enc, json, trim"},
		"transform without pipe space": {"vault:a#b |", 11, "unknown transform"},
		"text after reference":         {"vault:a#b and more", 9, "whitespace is not allowed here"},
		"json without field":           {"vault:a#b | json", 16, "json needs a field"},
		"json empty segment":           {"vault:a#b | json a..b", 19, "empty field name"},
		"json bad quoted":              {`vault:a#b | json "a`, 17, "invalid quoted field name"},
		"template no field":            {"vault:a#${b64dec .x}", 10, `want ".FIELD"`},
		"template nested field":        {"vault:a#${.x.y}", 12, `want "| FUNCTION" or "}"`},
		"template call":                {"vault:a#${.x | printf}", 15, "unknown transform"},
		"template unterminated":        {"vault:a#${.x", 12, `missing "}"`},
		"template digit field":         {"vault:a#${.1x}", 11, "field name"},
		"login with text":              {"vault:login:x", 13, `missing "#KEY"`},
		"bao transit is a path":        {"bao:v1:aGk=", 11, `missing "#KEY"`},
		"cipher with bad char":         {"vault:v1:a*b", 12, `missing "#KEY"`},
		"invalid utf8 in key":          {"${vault:a#\xff}", 10, "UTF-8"},
		"control in transform field":   {"vault:a#b | json x\x01", 18, "control"},
		"inline too long":              {"x${vault:a#" + strings.Repeat("k", vaultref.MaxLen) + "}", 1 + vaultref.MaxLen, "longer than"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := vaultref.Scan(tc.in)
			var pe *vaultref.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Scan(%q) error = %v, want *ParseError", tc.in, err)
			}
			if pe.Offset != tc.offset {
				t.Errorf("offset = %d, want %d (%v)", pe.Offset, tc.offset, err)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tc.reason)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the value", err)
			}
			if !vaultref.HasRefs(tc.in) {
				t.Errorf("HasRefs(%q) = false for a value Scan rejects", tc.in)
			}
		})
	}
}

func TestHasRefs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                      false,
		"plain":                 false,
		"${":                    false,
		"$${HOME}":              false,
		"${vault":               false,
		"${Vault:a#b}":          false,
		"${vault:":              true,
		"x${bao:a#b}":           true,
		"${x}${>>vault:p#k}":    true,
		"${>>bao:p#k}":          true,
		"vault:a#b":             true,
		"bao:a#b":               true,
		"text vault:a#b":        false,
		"-----BEGIN CERT-----$": false,
	} {
		if got := vaultref.HasRefs(in); got != want {
			t.Errorf("HasRefs(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tmpl, err := vaultref.Scan("postgres://${vault:a#user}:${vault:a#pass}@db/${vault:a#user}")
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.Render([]string{"app", "p@ss:${vault:x#y}#$", "app"})
	if want := "postgres://app:p@ss:${vault:x#y}#$@db/app"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("Render with the wrong number of values did not panic")
		}
	}()
	tmpl.Render(nil)
}

func TestParsePathList(t *testing.T) {
	t.Parallel()
	got, err := vaultref.ParsePathList("secret/data/app, kv/shared#3 ,bao/x")
	if err != nil {
		t.Fatal(err)
	}
	want := []vaultref.PathRef{{Path: "secret/data/app"}, {Path: "kv/shared", Version: 3}, {Path: "bao/x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePathList = %+v, want %+v", got, want)
	}
	if want[1].String() != "kv/shared#3" || want[0].String() != "secret/data/app" {
		t.Errorf("String = %q, %q", want[1].String(), want[0].String())
	}
	if got, err := vaultref.ParsePathList("  "); err != nil || got != nil {
		t.Errorf("blank list = %v, %v; want nothing", got, err)
	}
	for in, off := range map[string]int{
		"a,,b":      2,
		"a, ,b":     3,
		"a,b#x":     4,
		"a b":       1,
		"/a":        0,
		"a,":        2,
		"a#1#2":     3,
		"a,b#1 c":   5,
		"ok,b\x01c": 4,
		"a,b/../c":  4,
	} {
		_, err := vaultref.ParsePathList(in)
		var pe *vaultref.ParseError
		if !errors.As(err, &pe) || pe.Offset != off {
			t.Errorf("ParsePathList(%q) = %v, want a *ParseError at %d", in, err, off)
		}
	}
}
