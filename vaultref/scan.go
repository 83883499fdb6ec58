package vaultref

import "strings"

// Template is a scanned value: literal text interleaved with references, in order.
// Literals always has one more entry than Refs: Literals[0] Refs[0] Literals[1] ...
type Template struct {
	// Literals are the text between references, copied unchanged (possibly empty).
	Literals []string
	// Refs are the references in the order they appear.
	Refs []Ref
	// Whole is true when the entire value is one reference (vault:...), not ${...} in text.
	Whole bool
}

// refPrefixes start a reference: at the very beginning of a value, or right after "${".
var refPrefixes = [...]string{"vault:", "bao:", ">>vault:", ">>bao:"}

var schemes = [...]string{"vault:", "bao:"}

// Schemes returns the spellings every reference contains, whole or inline: text with none
// of them holds no reference, so a caller may skip a whole document without scanning it.
func Schemes() []string { return append([]string(nil), schemes[:]...) }

func wholePrefix(s string) bool {
	for _, p := range refPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// HasRefs reports, cheaply and without allocating, whether Scan would find a reference in
// value (or fail on a malformed one). Values without references are used as they are.
func HasRefs(value string) bool {
	if wholePrefix(value) {
		return true
	}
	return nextInline(value, 0) >= 0
}

// nextInline returns the index of the next "${" at or after from that opens a
// reference, or -1. Any other "${" is literal text.
func nextInline(value string, from int) int {
	for from < len(value) {
		i := strings.Index(value[from:], "${")
		if i < 0 {
			return -1
		}
		at := from + i
		if wholePrefix(value[at+2:]) {
			return at
		}
		from = at + 2
	}
	return -1
}

// Scan splits value into literal text and references. A value that starts with a scheme
// ("vault:", "bao:", ">>vault:", ">>bao:") must be exactly one reference; otherwise every
// "${" followed by a scheme opens a reference that ends at its matching "}", and any
// other text, including other "${", is literal. Errors are *ParseError.
func Scan(value string) (Template, error) { return scan(value, true) }

// Check reports the error Scan would, without building the template: the webhook checks
// every reference of a pod and keeps none, and the template was most of the check's
// allocations.
func Check(value string) error {
	_, err := scan(value, false)
	return err
}

// scan is Scan; without keep it only parses, and returns the zero Template.
func scan(value string, keep bool) (Template, error) {
	if wholePrefix(value) {
		if len(value) > MaxLen {
			return Template{}, &ParseError{Offset: MaxLen, Reason: "reference longer than 16384 bytes"}
		}
		p := &parser{in: value}
		r, err := p.ref()
		if err != nil || !keep {
			return Template{}, err
		}
		return Template{Literals: []string{"", ""}, Refs: []Ref{r}, Whole: true}, nil
	}
	var t Template
	from := 0
	for {
		at := nextInline(value, from)
		if at < 0 {
			break
		}
		p := &parser{in: value, pos: at + 2, inline: true}
		r, err := p.ref()
		if err != nil {
			return Template{}, err
		}
		if p.pos+1-at > MaxLen {
			return Template{}, &ParseError{Offset: at + MaxLen, Reason: "reference longer than 16384 bytes"}
		}
		if keep {
			t.Literals = append(t.Literals, value[from:at])
			t.Refs = append(t.Refs, r)
		}
		from = p.pos + 1 // past the closing "}"
	}
	if !keep {
		return Template{}, nil
	}
	t.Literals = append(t.Literals, value[from:])
	return t, nil
}

// String formats the template back into a value that scans to an equal Template.
func (t Template) String() string {
	if t.Whole && len(t.Refs) == 1 {
		return t.Refs[0].String()
	}
	var b strings.Builder
	for i, lit := range t.Literals {
		b.WriteString(lit)
		if i < len(t.Refs) {
			b.WriteString("${")
			b.WriteString(t.Refs[i].String())
			b.WriteByte('}')
		}
	}
	return b.String()
}

// Len is the length of Render(values), computed without rendering: a caller bounding what
// it renders (envexec's files) checks it first.
func (t Template) Len(values []string) int {
	n := 0
	for _, s := range t.Literals {
		n += len(s)
	}
	for _, s := range values {
		n += len(s)
	}
	return n
}

// Render substitutes values[i] for Refs[i] and returns the finished value. It panics if
// len(values) != len(t.Refs), which is a programming error.
func (t Template) Render(values []string) string {
	if len(values) != len(t.Refs) {
		panic("vaultref: Render needs one value per reference")
	}
	var b strings.Builder
	b.Grow(t.Len(values))
	for i, lit := range t.Literals {
		b.WriteString(lit)
		if i < len(values) {
			b.WriteString(values[i])
		}
	}
	return b.String()
}
