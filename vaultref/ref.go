package vaultref

import (
	"fmt"
	"strconv"
	"strings"
)

// Prefix is the scheme most references start with; kept for callers that predate Scan.
const Prefix = "vault:"

// MaxLen bounds one reference (a write's JSON body included), so a hostile or broken
// manifest cannot make resolving it expensive. Literal text around references is not
// bounded here: the Kubernetes API bounds the whole object.
const MaxLen = 16 << 10

// Kind says what a resolver does to turn a reference into text.
type Kind uint8

const (
	// Read reads KEY of the secret at PATH, optionally pinned to a KV v2 version.
	Read Kind = iota
	// Write sends BODY to PATH (dynamic secrets such as pki/issue/ROLE) and takes KEY
	// from the response; the same write is meant to be done once per start-up.
	Write
	// Login stands for the Vault token envexec obtained at login.
	Login
	// Transit is a transit-engine ciphertext ("vault:v1:...") to be decrypted.
	Transit
)

// String names the kind for logs and messages.
func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case Login:
		return "login"
	case Transit:
		return "transit"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Scheme records how a reference was spelled, so formatting gives back what the user wrote.
type Scheme uint8

const (
	// SchemeVault is "vault:", the zero value.
	SchemeVault Scheme = iota
	// SchemeBao is "bao:", a synonym for OpenBao users (same API, same meaning).
	SchemeBao
)

// String returns the scheme's spelling without the colon.
func (s Scheme) String() string {
	if s == SchemeBao {
		return "bao"
	}
	return "vault"
}

// Ref is one parsed reference. Which fields matter depends on Kind.
type Ref struct {
	// Kind says how the reference is resolved.
	Kind Kind
	// Scheme is how the reference was spelled ("vault:" or "bao:"); it does not change the meaning.
	Scheme Scheme
	// Path is the Vault API path as written, e.g. "secret/data/app/db" (Read and Write).
	Path string
	// Key is the field of the secret's data to use (Read and Write), empty when
	// KeyTemplate is set.
	Key string
	// KeyTemplate is a bank-vaults style key such as "${.cert | b64dec}": literal text and
	// fields of the secret's data, each with its own transforms. Nil for a plain Key.
	KeyTemplate []KeyPart
	// Version pins a KV v2 version (Read only); 0 means the latest.
	Version int
	// Body is the JSON object sent by a Write, exactly as written; empty means {}.
	Body string
	// Ciphertext is the whole transit ciphertext, "vault:v1:..." (Transit only).
	Ciphertext string
	// Transforms apply in order to the value, after the key or template is evaluated.
	Transforms []Transform
}

// KeyPart is one piece of a key template: literal Text, or a Field of the secret's data
// with its transforms.
type KeyPart struct {
	// Text is literal text, used when Field is empty.
	Text string
	// Field names a key of the secret's data, written ${.Field}.
	Field string
	// Transforms apply in order to the field's value.
	Transforms []Transform
}

// String renders the reference in canonical form (as written, with transforms spaced
// as " | f"), so Scan of the result gives back an equal Ref. It never holds a secret.
func (r Ref) String() string {
	var b strings.Builder
	if r.Kind == Write {
		b.WriteString(">>")
	}
	b.WriteString(r.Scheme.String())
	b.WriteByte(':')
	switch r.Kind {
	case Login:
		b.WriteString(loginWord)
	case Transit:
		b.WriteString(strings.TrimPrefix(r.Ciphertext, Prefix))
	default:
		b.WriteString(r.Path)
		b.WriteByte('#')
		writeKey(&b, r)
		if r.Version > 0 {
			b.WriteByte('#')
			b.WriteString(strconv.Itoa(r.Version))
		}
		if r.Body != "" {
			b.WriteByte('#')
			b.WriteString(r.Body)
		}
	}
	for _, t := range r.Transforms {
		b.WriteString(" | ")
		b.WriteString(t.String())
	}
	return b.String()
}

func writeKey(b *strings.Builder, r Ref) {
	if r.KeyTemplate == nil {
		b.WriteString(r.Key)
		return
	}
	for _, p := range r.KeyTemplate {
		if p.Field == "" {
			b.WriteString(p.Text)
			continue
		}
		b.WriteString("${." + p.Field)
		for _, t := range p.Transforms {
			b.WriteString(" | ")
			b.WriteString(t.String())
		}
		b.WriteByte('}')
	}
}

// ParseError tells the user what is wrong with a value and at which byte, so a message can
// point at the exact mistake. Reason never repeats the input: a value may hold secrets
// next to its references.
type ParseError struct {
	// Offset is the byte offset in the scanned value where the problem was found.
	Offset int
	// Reason says what is wrong, in lower case.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid vault reference at byte %d: %s", e.Offset, e.Reason)
}

// IsRef reports whether the whole value is meant as one reference (it may be malformed).
// New callers use HasRefs, which also finds references inside text.
func IsRef(value string) bool {
	return wholePrefix(value)
}

// Parse parses a value that is one whole reference, such as vault:PATH#KEY[#VERSION], or
// returns a *ParseError. New callers use Scan, which also handles references inside text.
func Parse(value string) (Ref, error) {
	if !wholePrefix(value) {
		return Ref{}, &ParseError{Offset: 0, Reason: `missing "vault:" prefix`}
	}
	t, err := Scan(value)
	if err != nil {
		return Ref{}, err
	}
	return t.Refs[0], nil
}
