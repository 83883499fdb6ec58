package vaultref

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MissingKeyError is returned by Value when the secret has no such key, so a resolver can
// tell a missing key (which a pod may choose to ignore) from other failures.
type MissingKeyError struct {
	// Key is the missing key.
	Key string
	// Have lists the keys the secret does have (names only), sorted.
	Have []string
}

// Error implements error.
func (e *MissingKeyError) Error() string {
	have := "no keys"
	if n := len(e.Have); n > 0 {
		keys := e.Have
		if n > 10 {
			keys = append(slices.Clone(keys[:10]), "...")
		}
		have = "key"
		if n > 1 {
			have = "keys"
		}
		have += " " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("key %q not found (the secret has %s)", e.Key, have)
}

// Value computes the text of a Read or Write reference from the secret's data (for KV v2,
// the inner "data" object): the key or key template, then the transforms.
func (r Ref) Value(data map[string]any) (string, error) {
	var v string
	var err error
	if r.KeyTemplate == nil {
		v, err = field(data, r.Key, nil)
	} else {
		v, err = r.template(data)
	}
	if err != nil {
		return "", err
	}
	return r.Apply(v)
}

func (r Ref) template(data map[string]any) (string, error) {
	var b strings.Builder
	for _, p := range r.KeyTemplate {
		if p.Field == "" {
			b.WriteString(p.Text)
			continue
		}
		v, err := field(data, p.Field, p.Transforms)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func field(data map[string]any, key string, transforms []Transform) (string, error) {
	raw, ok := data[key]
	if !ok {
		return "", &MissingKeyError{Key: key, Have: slices.Sorted(maps.Keys(data))}
	}
	v, err := Text(raw)
	if err != nil {
		return "", err
	}
	return apply(v, transforms)
}

// Apply runs the reference's transforms on v: for Login and Transit references the
// resolver has the value itself, and Value calls it for the others.
func (r Ref) Apply(v string) (string, error) {
	return apply(v, r.Transforms)
}

func apply(v string, transforms []Transform) (string, error) {
	for _, t := range transforms {
		var err error
		if v, err = t.Apply(v); err != nil {
			return "", err
		}
	}
	return v, nil
}

// Text turns a value decoded from Vault's JSON into environment text: strings as they are,
// anything else (numbers exactly as sent when decoded with UseNumber, booleans, null,
// objects, arrays) as compact JSON without HTML escaping.
func Text(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("rendering a %T value as JSON: %w", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
