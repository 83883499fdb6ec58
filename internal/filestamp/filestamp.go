// Package filestamp tells whether files changed since they were last read: the serving
// certificate, the Kubernetes CA, client certificate and token are all files that
// something else replaces while the webhook runs.
package filestamp

import (
	"fmt"
	"os"
	"strings"
)

// Of describes the files as they are now: each one's size and modification time, or
// that it is missing. A different result means one was written, replaced or removed.
func Of(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}
