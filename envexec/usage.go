package envexec

import (
	"fmt"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// usage is derived from the settings and exit-code tables, so it cannot go stale.
func usage() string {
	var b strings.Builder
	b.WriteString(`usage:
  envexec -- COMMAND [ARG...]  resolve vault: references in the environment and in
                               COMMAND and ARGs, then exec COMMAND
  envexec copy DIR             install this binary as DIR/envexec (for an init container)
  envexec version [--json]     print the version, commit, Go version and modules
  envexec help                 print this help

A variable whose value is vault:PATH#KEY[#VERSION] gets the value of KEY in the Vault
secret at PATH; references also work inside text as ${vault:PATH#KEY}, with transforms
(" | b64dec"), writes (>>vault:), vault:login and transit ciphertexts (vault:v1:...).
COMMAND and ARGs may hold references in the same forms. See docs/references.md.
envexec is configured only by these variables, which it removes before starting COMMAND:
`)
	for _, s := range settings.Docs() {
		fmt.Fprintf(&b, "  %-26s %s", s.Name, s.Help)
		if s.Default != "" {
			fmt.Fprintf(&b, " (default %s)", s.Default)
		}
		b.WriteByte('\n')
	}
	b.WriteString("\nexit codes:\n")
	for _, e := range exitCodeTable() {
		fmt.Fprintf(&b, "  %d  %s\n", e.code, e.meaning)
	}
	return b.String()
}
