package vaultref

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Transform is one step of a pipeline such as "| b64dec" or "| json db.password". The set
// of functions is fixed: a reference never executes a template.
type Transform struct {
	// Func is the function: "b64dec", "b64enc", "json" or "trim".
	Func string
	// Field is the path that "json" picks, one entry per segment (nil for other functions).
	Field []string
}

// String renders the transform as it is written after "|".
func (t Transform) String() string {
	if t.Field == nil {
		return t.Func
	}
	return t.Func + " " + formatField(t.Field)
}

// TransformError says which transform could not be applied and why. It never holds the
// value being transformed.
type TransformError struct {
	// Func is the transform that failed.
	Func string
	// Reason says why, in lower case.
	Reason string
}

// Error implements error.
func (e *TransformError) Error() string { return "transform " + e.Func + ": " + e.Reason }

// function describes one transform: whether it takes a field, and what it does.
type function struct {
	name  string
	field bool
	apply func(v string, field []string) (string, error)
}

var functions = [...]function{
	{name: "b64dec", apply: b64dec},
	{name: "b64enc", apply: func(v string, _ []string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(v)), nil }},
	{name: "json", field: true, apply: pickJSON},
	{name: "trim", apply: func(v string, _ []string) (string, error) { return strings.TrimSpace(v), nil }},
}

func lookupFunc(name string) (function, bool) {
	for _, f := range functions {
		if f.name == name {
			return f, true
		}
	}
	return function{}, false
}

func funcNames() string {
	names := make([]string, len(functions))
	for i, f := range functions {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// Apply runs t on v.
func (t Transform) Apply(v string) (string, error) {
	f, ok := lookupFunc(t.Func)
	if !ok {
		return "", &TransformError{Func: t.Func, Reason: "unknown transform"}
	}
	return f.apply(v, t.Field)
}

// b64dec accepts the standard and URL alphabets, padded or not, and ignores line breaks
// (base64 tools wrap their output at 76 columns).
func b64dec(v string, _ []string) (string, error) {
	v = strings.NewReplacer("\n", "", "\r", "").Replace(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return string(b), nil
		}
	}
	return "", &TransformError{Func: "b64dec", Reason: "the value is not valid base64"}
}

// pickJSON parses v as JSON and returns the text of the value at field: object members
// by name, array elements by index.
func pickJSON(v string, field []string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return "", &TransformError{Func: "json", Reason: "the value is not valid JSON"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", &TransformError{Func: "json", Reason: "the value is not valid JSON (text after the JSON value)"}
	}
	for i, seg := range field {
		next, ok := member(x, seg)
		if !ok {
			return "", &TransformError{Func: "json", Reason: "field " + formatField(field[:i+1]) + " not found"}
		}
		x = next
	}
	return Text(x)
}

func member(x any, seg string) (any, bool) {
	switch o := x.(type) {
	case map[string]any:
		v, ok := o[seg]
		return v, ok
	case []any:
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(o) || strconv.Itoa(i) != seg {
			return nil, false
		}
		return o[i], true
	default:
		return nil, false
	}
}

// formatField writes a field path with bare segments where possible and JSON strings
// otherwise, so it parses back to the same segments.
func formatField(field []string) string {
	var b strings.Builder
	for i, seg := range field {
		if i > 0 {
			b.WriteByte('.')
		}
		if bareSegment(seg) {
			b.WriteString(seg)
			continue
		}
		q, err := json.Marshal(seg)
		if err != nil {
			q = []byte(strconv.Quote(seg))
		}
		b.Write(q)
	}
	return b.String()
}

func bareSegment(s string) bool {
	if s == "" {
		return false
	}
	p := &parser{in: s}
	seg, err := p.segment()
	return err == nil && seg == s && p.pos == len(s)
}
