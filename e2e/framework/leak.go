package framework

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// FindLeaks returns, sorted, the names of the places whose content holds canary, as is
// or base64-encoded (how a value would sit in a Secret or a JSON []byte).
func FindLeaks(canary string, places map[string][]byte) []string {
	if canary == "" {
		return nil
	}
	needles := [][]byte{
		[]byte(canary),
		[]byte(base64.StdEncoding.EncodeToString([]byte(canary))),
		[]byte(base64.RawStdEncoding.EncodeToString([]byte(canary))),
	}
	var leaked []string
	for name, data := range places {
		for _, n := range needles {
			if bytes.Contains(data, n) {
				leaked = append(leaked, name)
				break
			}
		}
	}
	slices.Sort(leaked)
	return leaked
}

// CheckNoLeak fails naming the places that hold canary, never the canary itself.
func CheckNoLeak(canary string, places map[string][]byte) error {
	if leaked := FindLeaks(canary, places); len(leaked) > 0 {
		return fmt.Errorf("secret value found in: %s", strings.Join(leaked, ", "))
	}
	return nil
}
