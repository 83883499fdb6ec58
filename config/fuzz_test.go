package config_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/config"
)

// FuzzParsePod feeds arbitrary annotation keys and values: ParsePod never panics, accepts
// nothing malformed silently (an accepted value is one of the typed forms), and its errors
// name the annotation at fault.
func FuzzParsePod(f *testing.F) {
	for _, seed := range [][2]string{
		{"vault-injector.io/inject", "false"},
		{"vault-injector.io/timeout", "1h"},
		{"vault-injector.io/role", "a\nb"},
		{"vault-injector.io/vault-addr", "http://169.254.169.254/"},
		{"vault.security.banzaicloud.io/mutate", "skip"},
		{"vault-injector.io/auth-path", "../../sys"},
		{"vault-injector.io/log-level", "{{.Values}}"},
	} {
		f.Add(seed[0], seed[1])
	}
	w, err := parse(f, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		p, _, err := config.ParsePod(map[string]string{key: value}, "sa", w)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(key)) {
				t.Fatalf("error %q does not name annotation %q", err, key)
			}
			return
		}
		if strings.ContainsAny(p.Role+p.AuthPath+p.VaultAddr, " \n\t\"'") {
			t.Fatalf("accepted a value with whitespace or quotes: %+v", p)
		}
		if p.VaultAddr != w.Defaults.VaultAddr {
			t.Fatalf("a pod chose Vault %q although no address is allowed", p.VaultAddr)
		}
	})
}
