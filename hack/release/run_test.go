package main

import (
	"io"
	"strings"
	"testing"
)

// TestParseRefuses: a release that could not be reproduced or verified is refused before
// anything is built or pushed, with the flag and the value named.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"-version": "v1.2.3", "-commit": strings.Repeat("ab", 20), "-source-date-epoch": "1767225600",
		"-registry": "127.0.0.1:5000/acme", "-key": "cosign.key", "-command": "make release",
	}
	tests := map[string]struct {
		flag, value, want string
	}{
		"no v":                  {"-version", "1.2.3", `-version "1.2.3" is not vMAJOR.MINOR.PATCH`},
		"two parts":             {"-version", "v1.2", `-version "v1.2" is not`},
		"git describe":          {"-version", "v1.2.3-4-gabcdef-dirty+x", `-version "v1.2.3-4-gabcdef-dirty+x" is not`},
		"a flag as version":     {"-version", "--set=x", `-version "--set=x" is not`},
		"short commit":          {"-commit", "abc123", `-commit "abc123" is not a full git commit`},
		"no commit":             {"-commit", "unknown", `-commit "unknown" is not a full git commit`},
		"no time":               {"-source-date-epoch", "", `-source-date-epoch "" is not a Unix time`},
		"negative time":         {"-source-date-epoch", "-5", `-source-date-epoch "-5" is not a Unix time`},
		"URL as registry":       {"-registry", "https://registry.example/acme", `-registry "https://registry.example/acme" is not host[:port][/path]`},
		"registry with a tag":   {"-registry", "registry.example/acme:v1", `-registry "registry.example/acme:v1" is not`},
		"no registry":           {"-registry", "", `-registry "" is not`},
		"no key":                {"-key", "", "-key: no cosign private key"},
		"no provenance command": {"-command", "", "-command: no build command"},
		"pre-release is fine":   {"-version", "v1.2.3-rc.1", ""},
		"registry without path": {"-registry", "registry.example:5000", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var args []string
			for f, v := range good {
				if f == tc.flag {
					v = tc.value
				}
				args = append(args, f+"="+v)
			}
			_, err := parse(args, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
