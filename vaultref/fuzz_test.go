package vaultref_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/vaultref"
)

// FuzzScan checks that Scan never panics, that errors are *ParseError pointing inside the
// input, that HasRefs agrees with Scan, and that every accepted value formats to text
// that scans back to an equal Template (and formats identically again).
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"vault:secret/data/a#b", "vault:a#b#1", "vault:#", "vault:a##", "vault:é#ü#007", "x", "",
		"postgres://u:${vault:s/db#pw}@h/${bao:s/db#name#2}", "${HOME}${vault:a#b", "$${vault:a#b}",
		"vault:a#b | b64dec | json x.\"y.z\".0 | trim", "vault:a#${.x | b64enc}:${.y}#3",
		`>>vault:pki/issue/r#certificate#{"common_name":"a}#b","n":[1,{"x":2}]} | b64enc`,
		"vault:login", "${vault:login | b64enc}", "vault:v1:aGVsbG8=", "${vault:v2:aGk=}x",
		"vault:a#b c", "${vault:a#${.b}}", "bao:a#b}", "vault:a#b | json \"\\u00e9\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tmpl, err := vaultref.Scan(in)
		if check := vaultref.Check(in); !reflect.DeepEqual(check, err) {
			t.Fatalf("Check(%q) = %v, Scan says %v", in, check, err)
		}
		if err != nil {
			var pe *vaultref.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Scan(%q) returned %T, want *ParseError", in, err)
			}
			if pe.Offset < 0 || pe.Offset > len(in) {
				t.Fatalf("Scan(%q) offset %d outside the input", in, pe.Offset)
			}
			if !vaultref.HasRefs(in) {
				t.Fatalf("Scan(%q) failed but HasRefs is false", in)
			}
			return
		}
		if got := vaultref.HasRefs(in); got != (len(tmpl.Refs) > 0) {
			t.Fatalf("HasRefs(%q) = %v, but Scan found %d references", in, got, len(tmpl.Refs))
		}
		hasScheme := slices.ContainsFunc(vaultref.Schemes(), func(s string) bool { return strings.Contains(in, s) })
		if len(tmpl.Refs) > 0 && !hasScheme {
			t.Fatalf("Scan(%q) found references, but the value holds none of %q", in, vaultref.Schemes())
		}
		if len(tmpl.Literals) != len(tmpl.Refs)+1 {
			t.Fatalf("Scan(%q): %d literals for %d references", in, len(tmpl.Literals), len(tmpl.Refs))
		}
		out := tmpl.String()
		again, err := vaultref.Scan(out)
		if err != nil {
			t.Fatalf("Scan(%q) ok, but its format %q fails: %v", in, out, err)
		}
		if !reflect.DeepEqual(again, tmpl) {
			t.Fatalf("round trip of %q via %q:\n got %#v\nwant %#v", in, out, again, tmpl)
		}
		if again.String() != out {
			t.Fatalf("format is not stable: %q then %q", out, again.String())
		}
	})
}

// FuzzParsePathList checks that the from-path parser never panics and reports offsets
// inside its input.
func FuzzParsePathList(f *testing.F) {
	for _, s := range []string{"a", "a,b#2", " a , b ", ",", "a#", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		refs, err := vaultref.ParsePathList(in)
		var pe *vaultref.ParseError
		switch {
		case err != nil && (!errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(in)):
			t.Fatalf("ParsePathList(%q): %v", in, err)
		case err == nil:
			for _, r := range refs {
				if back, err := vaultref.ParsePathList(r.String()); err != nil || len(back) != 1 || back[0] != r {
					t.Fatalf("round trip of %+v: %+v, %v", r, back, err)
				}
			}
		}
	})
}
