package webhook

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A denial names at most maxProblems problems, each cut at maxProblemBytes, then says how
// many more there are: a pod with 10,000 malformed references must not make the webhook
// answer (and the apiserver store in its events) a megabyte of our own message. The first
// few are enough for the user to see what is wrong; fixing them reveals the next.
const (
	maxProblems     = 5
	maxProblemBytes = 1024
)

// maxNameBytes bounds a name quoted from the request: mutating admission runs before the
// apiserver validates the object, so a name may still be of any length. Kubernetes names
// are at most 253 bytes.
const maxNameBytes = 253

// Warnings are bounded the same way: the apiserver keeps at most 4 KiB of them anyway.
const (
	maxWarnings     = 10
	maxWarningBytes = 512
)

// problemMessage writes err for a user: its problems (as gathered by errors.Join, nested
// or not) one per line, bounded as above.
func problemMessage(err error) string {
	all := problems(err, nil)
	var b strings.Builder
	for i, p := range all[:min(len(all), maxProblems)] {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(truncate(p.Error(), maxProblemBytes))
	}
	if more := len(all) - maxProblems; more > 0 {
		b.WriteString("\nand " + strconv.Itoa(more) + " more " + plural(more, "problem"))
	}
	return b.String()
}

// problems flattens the lists errors.Join makes. fmt.Errorf with several %w also unwraps to
// a list, but its message is a sentence of its own, not its parts one per line: such an
// error is one problem.
func problems(err error, out []error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || !isJoin(err, j.Unwrap()) {
		return append(out, err)
	}
	for _, e := range j.Unwrap() {
		out = problems(e, out)
	}
	return out
}

// isJoin tells whether err's message is its parts' messages one per line, as errors.Join
// writes it.
func isJoin(err error, parts []error) bool {
	msg := err.Error()
	for i, p := range parts {
		text := p.Error()
		if !strings.HasPrefix(msg, text) {
			return false
		}
		msg = msg[len(text):]
		if i < len(parts)-1 {
			var ok bool
			if msg, ok = strings.CutPrefix(msg, "\n"); !ok {
				return false
			}
		}
	}
	return msg == ""
}

// boundWarnings keeps the first maxWarnings warnings, each cut at maxWarningBytes.
func boundWarnings(warnings []string) []string {
	if len(warnings) == 0 {
		return warnings
	}
	out := make([]string, 0, min(len(warnings), maxWarnings)+1)
	for _, w := range warnings[:min(len(warnings), maxWarnings)] {
		out = append(out, truncate(w, maxWarningBytes))
	}
	if more := len(warnings) - maxWarnings; more > 0 {
		out = append(out, "and "+strconv.Itoa(more)+" more "+plural(more, "warning"))
	}
	return out
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// errNoNamespace and errOtherNamespace deny requests whose namespace the webhook cannot
// trust: pull secrets and service accounts are read in the request's namespace only, so a
// pod claiming another one could otherwise borrow that namespace's credentials.
var (
	errNoNamespace    = errors.New("the admission request names no namespace; pods are namespaced, so this did not come from the apiserver")
	errOtherNamespace = errors.New("the pod's metadata.namespace differs from the admission request's namespace")
)
