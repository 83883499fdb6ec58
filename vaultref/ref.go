// Package vaultref is the one definition of the `vault:` reference grammar, shared by the
// webhook (which detects references) and envexec (which resolves them), so the two can
// never disagree about what a reference is.
//
// Grammar (see docs/references.md):
//
//	ref     = "vault:" path "#" key [ "#" version ]
//	path    = 1*( any byte except "#", whitespace and control characters )
//	key     = 1*( any byte except "#", whitespace and control characters )
//	version = 1*DIGIT   ; a KV v2 version pin, 1 or more; absent means latest
package vaultref

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prefix marks a value as a reference: any env value that starts with it must parse, so a
// typo is reported at admission instead of reaching the application as a literal.
const Prefix = "vault:"

// MaxLen bounds a reference so a hostile or broken manifest cannot make parsing expensive.
const MaxLen = 4096

// Ref names one key of one Vault secret, optionally pinned to a KV v2 version.
type Ref struct {
	// Path is the Vault API path as written, e.g. "secret/data/app/db".
	Path string
	// Key is the field inside the secret's data.
	Key string
	// Version pins a KV v2 version; 0 means the latest.
	Version int
}

// String renders the reference in its canonical form, so it can be logged and compared.
func (r Ref) String() string {
	s := Prefix + r.Path + "#" + r.Key
	if r.Version > 0 {
		s += "#" + strconv.Itoa(r.Version)
	}
	return s
}

// ParseError tells the user what is wrong with a reference and at which byte, so a
// message can point at the exact mistake without repeating the whole value.
type ParseError struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Reason says what is wrong, in lower case.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid vault reference at byte %d: %s", e.Offset, e.Reason)
}

// IsRef reports whether a value is meant as a reference (it may still be malformed).
func IsRef(value string) bool {
	return strings.HasPrefix(value, Prefix)
}

// Parse turns `vault:PATH#KEY[#VERSION]` into a Ref, or returns a *ParseError.
func Parse(value string) (Ref, error) {
	if !IsRef(value) {
		return Ref{}, &ParseError{Offset: 0, Reason: `missing "vault:" prefix`}
	}
	if len(value) > MaxLen {
		return Ref{}, &ParseError{Offset: MaxLen, Reason: fmt.Sprintf("longer than %d bytes", MaxLen)}
	}
	if off, reason := badByte(value); reason != "" {
		return Ref{}, &ParseError{Offset: off, Reason: reason}
	}
	rest := value[len(Prefix):]
	parts := strings.Split(rest, "#")
	switch {
	case rest == "" || parts[0] == "":
		return Ref{}, &ParseError{Offset: len(Prefix), Reason: "empty path"}
	case len(parts) == 1:
		return Ref{}, &ParseError{Offset: len(value), Reason: `missing "#KEY" after the path`}
	case len(parts) > 3:
		off := len(Prefix) + len(parts[0]) + len(parts[1]) + len(parts[2]) + 2
		return Ref{}, &ParseError{Offset: off, Reason: `too many "#": want PATH#KEY or PATH#KEY#VERSION`}
	}
	ref := Ref{Path: parts[0], Key: parts[1]}
	keyOff := len(Prefix) + len(parts[0]) + 1
	if ref.Key == "" {
		return Ref{}, &ParseError{Offset: keyOff, Reason: "empty key"}
	}
	if strings.HasPrefix(ref.Path, "/") || strings.HasSuffix(ref.Path, "/") || strings.Contains(ref.Path, "//") {
		return Ref{}, &ParseError{Offset: len(Prefix), Reason: `path must not start or end with "/" or contain "//"`}
	}
	if len(parts) == 3 {
		v, err := parseVersion(parts[2])
		if err != nil {
			return Ref{}, &ParseError{Offset: keyOff + len(ref.Key) + 1, Reason: err.Error()}
		}
		ref.Version = v
	}
	return ref, nil
}

// badByte finds the first byte that may not appear in a reference: invalid UTF-8,
// whitespace or a control character. Unicode letters are fine in paths and keys.
func badByte(s string) (int, string) {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i, "invalid UTF-8"
			}
		case unicode.IsSpace(r):
			return i, "whitespace is not allowed"
		case unicode.IsControl(r):
			return i, "control characters are not allowed"
		}
	}
	return 0, ""
}

func parseVersion(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty version")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("version %q is not a positive integer", s)
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("version %q must be between 1 and %d", s, int(^uint32(0)>>1))
	}
	if v > int(^uint32(0)>>1) {
		return 0, fmt.Errorf("version %q must be between 1 and %d", s, int(^uint32(0)>>1))
	}
	return v, nil
}
