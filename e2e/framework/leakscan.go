package framework

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// CanaryHolderLabel marks an object in which a spec stores a canary on purpose (say, a
// Secret with a literal value next to a reference, to prove the webhook ignores it); the
// leak scan skips such objects and nothing else.
const CanaryHolderLabel = "e2e.vault-injector.io/holds-canary"

// canaryPattern matches the canaries specs make: "canary-" followed by the 26 base32
// characters of rand.Text.
var canaryPattern = regexp.MustCompile(`canary-[A-Z2-7]{26}`)

// CanariesIn returns the distinct canaries written out in data, sorted.
func CanariesIn(data []byte) []string {
	var out []string
	for _, m := range canaryPattern.FindAll(data, -1) {
		out = append(out, string(m))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CheckNoCanaries fails naming the places that hold any of the known canaries (as is or
// base64-encoded), or any text shaped like a canary at all, which catches the canaries
// of specs that did not name them. It never repeats a canary.
func CheckNoCanaries(known []string, places map[string][]byte) error {
	leaked := map[string]bool{}
	for _, c := range known {
		for _, place := range FindLeaks(c, places) {
			leaked[place] = true
		}
	}
	for place, data := range places {
		if canaryPattern.Match(data) {
			leaked[place] = true
		}
	}
	if len(leaked) == 0 {
		return nil
	}
	names := make([]string, 0, len(leaked))
	for place := range leaked {
		names = append(names, place)
	}
	slices.Sort(names)
	return fmt.Errorf("secret value found in %d places: %s", len(names), strings.Join(names, ", "))
}
