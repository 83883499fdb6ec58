package vaultref_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/vaultref"
)

// TestParse keeps every whole-value reference of the first grammar meaning what it meant.
func TestParse(t *testing.T) {
	t.Parallel()
	valid := map[string]struct {
		in   string
		want vaultref.Ref
	}{
		"kv2 api path":       {"vault:secret/data/app/db#password", vaultref.Ref{Path: "secret/data/app/db", Key: "password"}},
		"kv1 path":           {"vault:kv/app#user", vaultref.Ref{Path: "kv/app", Key: "user"}},
		"version pin":        {"vault:secret/data/app#k#3", vaultref.Ref{Path: "secret/data/app", Key: "k", Version: 3}},
		"single segment":     {"vault:a#b", vaultref.Ref{Path: "a", Key: "b"}},
		"unicode":            {"vault:secret/données/ключ#пароль", vaultref.Ref{Path: "secret/données/ключ", Key: "пароль"}},
		"dots and dashes":    {"vault:secret/data/my-app.v2#api_key-1.x", vaultref.Ref{Path: "secret/data/my-app.v2", Key: "api_key-1.x"}},
		"colon in key":       {"vault:secret/app#a:b", vaultref.Ref{Path: "secret/app", Key: "a:b"}},
		"pipe in key":        {"vault:secret/app#a|b64dec", vaultref.Ref{Path: "secret/app", Key: "a|b64dec"}},
		"braces in key":      {"vault:secret/app#a}b{", vaultref.Ref{Path: "secret/app", Key: "a}b{"}},
		"dollar in key":      {"vault:secret/app#a$b", vaultref.Ref{Path: "secret/app", Key: "a$b"}},
		"large version":      {"vault:s/p#k#2147483647", vaultref.Ref{Path: "s/p", Key: "k", Version: 2147483647}},
		"long path at limit": {"vault:" + strings.Repeat("p", vaultref.MaxLen-8) + "#k", vaultref.Ref{Path: strings.Repeat("p", vaultref.MaxLen-8), Key: "k"}},
		"path like cipher":   {"vault:v1:abc#k", vaultref.Ref{Path: "v1:abc", Key: "k"}},
		"path named login":   {"vault:login#k", vaultref.Ref{Path: "login", Key: "k"}},
		"dot-led segments":   {"vault:secret/.hidden/.../..x#k", vaultref.Ref{Path: "secret/.hidden/.../..x", Key: "k"}},
	}
	for name, tc := range valid {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := vaultref.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	invalid := map[string]struct {
		in     string
		offset int
		reason string
	}{
		"no prefix":                {"secret/app#k", 0, "prefix"},
		"inline is not whole":      {"${vault:a#b}", 0, "prefix"},
		"empty":                    {"vault:", 6, "empty path"},
		"empty path":               {"vault:#key", 6, "empty path"},
		"missing key":              {"vault:secret/app", 16, "missing"},
		"empty key":                {"vault:secret/app#", 17, "empty key"},
		"empty key before version": {"vault:secret/app##2", 17, "empty key"},
		"empty version":            {"vault:secret/app#k#", 19, "empty version"},
		"zero version":             {"vault:secret/app#k#0", 19, "between 1"},
		"negative version":         {"vault:secret/app#k#-1", 19, "not a positive integer"},
		"word version":             {"vault:secret/app#k#latest", 19, "not a positive integer"},
		"secret as version":        {"vault:secret/app#k#Hunter2-s3cr3t", 19, "not a positive integer"},
		"overflow version":         {"vault:secret/app#k#99999999999999999999", 19, "between 1"},
		"too many hashes":          {"vault:secret/app#k#1#x", 20, "too many"},
		"leading space":            {"vault: secret/app#k", 6, "whitespace"},
		"trailing newline":         {"vault:secret/app#k\n", 18, "whitespace"},
		"tab in key":               {"vault:secret/app#a\tb", 18, "whitespace"},
		"nbsp":                     {"vault:secret/app#a\u00a0b", 18, "whitespace"},
		"space in key":             {"vault:secret/app#a b", 18, "whitespace"},
		"control char":             {"vault:secret/app#a\x01", 18, "control"},
		"invalid utf8":             {"vault:secret/\xffapp#k", 13, "UTF-8"},
		"leading slash":            {"vault:/secret/app#k", 6, "must not start"},
		"trailing slash":           {"vault:secret/app/#k", 6, "must not start"},
		"double slash":             {"vault:secret//app#k", 6, "must not start"},
		"dot-dot segment":          {"vault:secret/data/../../other/x#k", 18, `"." or ".." segments`},
		"dot segment":              {"vault:secret/./app#k", 13, `"." or ".." segments`},
		"leading dot-dot":          {"vault:../sys/mounts#k", 6, `"." or ".." segments`},
		"trailing dot-dot":         {"vault:secret/app/..#k", 17, `"." or ".." segments`},
		"too long":                 {"vault:" + strings.Repeat("p", vaultref.MaxLen) + "#k", vaultref.MaxLen, "longer than"},
	}
	for name, tc := range invalid {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := vaultref.Parse(tc.in)
			var pe *vaultref.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *ParseError", tc.in, err)
			}
			if pe.Offset != tc.offset {
				t.Errorf("offset = %d, want %d (%v)", pe.Offset, tc.offset, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not contain %q", err, tc.reason)
			}
			// The input may be a secret pasted in the wrong place: the reason never
			// repeats what follows the offset.
			if rest := tc.in[tc.offset:]; len(rest) >= 4 && strings.Contains(pe.Reason, rest) {
				t.Errorf("reason %q repeats the input %q", pe.Reason, rest)
			}
		})
	}
}

func TestIsRef(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"vault:secret/app#k":   true,
		"vault:":               true,
		"bao:secret/app#k":     true,
		">>vault:pki/issue/r#": true,
		">>bao:x":              true,
		"Vault:secret/app#k":   false,
		"x vault:x#y":          false,
		"${vault:x#y}":         false,
		"plain":                false,
		"":                     false,
	} {
		if got := vaultref.IsRef(in); got != want {
			t.Errorf("IsRef(%q) = %v, want %v", in, got, want)
		}
	}
}
