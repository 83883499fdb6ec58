package vaultref

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// loginWord is the path that means "the Vault token" (vault:login).
const loginWord = "login"

// maxVersion is the largest KV v2 version accepted (Vault stores versions as int32-ish).
const maxVersion = int(^uint32(0) >> 1)

// parser reads one reference of in, starting at pos. Offsets in errors are into in, so a
// reference inside a longer value reports where it is in that value. Inline references end
// at "}", so inside them "}" cannot be part of a path or key.
type parser struct {
	in     string
	pos    int
	inline bool
}

func (p *parser) fail(off int, reason string) error {
	return &ParseError{Offset: off, Reason: reason}
}

func (p *parser) rest() string { return p.in[p.pos:] }

func (p *parser) at(c byte) bool { return p.pos < len(p.in) && p.in[p.pos] == c }

func (p *parser) spaces() {
	for p.at(' ') {
		p.pos++
	}
}

// endsAt reports whether a special form (login, transit) may end at i: the end of the
// reference, or a space that starts a pipeline.
func (p *parser) endsAt(i int) bool {
	return i == len(p.in) || p.in[i] == ' ' || (p.inline && p.in[i] == '}')
}

// char accepts the rune at pos, or fails on invalid UTF-8, whitespace or a control
// character, none of which may appear in paths, keys or field names.
func (p *parser) char() error {
	if c := p.in[p.pos]; c > ' ' && c < utf8.RuneSelf-1 {
		p.pos++ // printable ASCII, which paths and keys almost always are
		return nil
	}
	r, size := utf8.DecodeRuneInString(p.rest())
	switch {
	case r == utf8.RuneError && size == 1:
		return p.fail(p.pos, "invalid UTF-8")
	case unicode.IsSpace(r):
		return p.fail(p.pos, "whitespace is not allowed")
	case unicode.IsControl(r):
		return p.fail(p.pos, "control characters are not allowed")
	}
	p.pos += size
	return nil
}

// ref parses one reference and checks that it ends where it must: at the end of the
// value, or at the "}" of an inline reference (which the caller consumes).
func (p *parser) ref() (Ref, error) {
	var r Ref
	if strings.HasPrefix(p.rest(), ">>") {
		r.Kind = Write
		p.pos += 2
	}
	switch {
	case strings.HasPrefix(p.rest(), "vault:"):
		p.pos += len("vault:")
	case strings.HasPrefix(p.rest(), "bao:"):
		r.Scheme = SchemeBao
		p.pos += len("bao:")
	default:
		return Ref{}, p.fail(p.pos, `missing "vault:" prefix`)
	}
	if r.Kind != Read || !p.special(&r) {
		if err := p.secret(&r); err != nil {
			return Ref{}, err
		}
	}
	if err := p.pipeline(&r.Transforms); err != nil {
		return Ref{}, err
	}
	return r, p.end()
}

// special recognizes vault:login and transit ciphertexts (vault:v1:BASE64). Neither has a
// "#", so neither can be mistaken for a PATH#KEY reference.
func (p *parser) special(r *Ref) bool {
	rest := p.rest()
	if strings.HasPrefix(rest, loginWord) && p.endsAt(p.pos+len(loginWord)) {
		r.Kind = Login
		p.pos += len(loginWord)
		return true
	}
	if r.Scheme != SchemeVault {
		return false
	}
	n := ciphertextLen(rest)
	if n == 0 || !p.endsAt(p.pos+n) {
		return false
	}
	r.Kind = Transit
	r.Ciphertext = Prefix + rest[:n]
	p.pos += n
	return true
}

// ciphertextLen returns the length of a leading "v" DIGITS ":" BASE64 in s, or 0.
func ciphertextLen(s string) int {
	if !strings.HasPrefix(s, "v") {
		return 0
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 1 || i == len(s) || s[i] != ':' {
		return 0
	}
	i++
	start := i
	for i < len(s) && isBase64(s[i]) {
		i++
	}
	if i == start {
		return 0
	}
	return i
}

func isBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// secret parses PATH#KEY followed by #VERSION (reads) or #BODY (writes).
func (p *parser) secret(r *Ref) error {
	path, err := p.path()
	if err != nil {
		return err
	}
	r.Path = path
	if !p.at('#') {
		return p.fail(p.pos, `missing "#KEY" after the path`)
	}
	p.pos++
	if err := p.key(r); err != nil {
		return err
	}
	if !p.at('#') {
		return nil
	}
	p.pos++
	if r.Kind == Write {
		r.Body, err = p.body()
		return err
	}
	r.Version, err = p.version()
	return err
}

func (p *parser) path() (string, error) {
	start := p.pos
	for p.pos < len(p.in) {
		if c := p.in[p.pos]; c == '#' || (p.inline && c == '}') {
			break
		}
		if err := p.char(); err != nil {
			return "", err
		}
	}
	path := p.in[start:p.pos]
	switch {
	case path == "":
		return "", p.fail(start, "empty path")
	case strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "//"):
		return "", p.fail(start, `path must not start or end with "/" or contain "//"`)
	}
	// A "." or ".." segment would make Vault (or a proxy before it) read another path
	// than the one written, with envexec's token.
	if !strings.Contains(path, ".") {
		return path, nil // no segment to look at, as most paths
	}
	off := start
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return "", p.fail(off, `path must not contain "." or ".." segments`)
		}
		off += len(seg) + 1
	}
	return path, nil
}

// key parses a plain key, or a key template when it holds "${".
func (p *parser) key(r *Ref) error {
	start, text := p.pos, p.pos
	var parts []KeyPart
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '#' || c == ' ' || (p.inline && c == '}') {
			break
		}
		if c != '$' || !strings.HasPrefix(p.rest(), "${") {
			if err := p.char(); err != nil {
				return err
			}
			continue
		}
		if p.pos > text {
			parts = append(parts, KeyPart{Text: p.in[text:p.pos]})
		}
		part, err := p.action()
		if err != nil {
			return err
		}
		parts = append(parts, part)
		text = p.pos
	}
	switch {
	case p.pos == start:
		return p.fail(start, "empty key")
	case parts == nil:
		r.Key = p.in[start:p.pos]
		return nil
	case p.pos > text:
		parts = append(parts, KeyPart{Text: p.in[text:p.pos]})
	}
	r.KeyTemplate = parts
	return nil
}

// action parses ${.FIELD | FUNC ...} in a key template. Only field access and the
// transform functions exist: nothing is executed.
func (p *parser) action() (KeyPart, error) {
	p.pos += len("${")
	p.spaces()
	if !p.at('.') {
		return KeyPart{}, p.fail(p.pos, `want ".FIELD" after "${" in a key template`)
	}
	p.pos++
	start := p.pos
	for p.pos < len(p.in) {
		r, size := utf8.DecodeRuneInString(p.rest())
		if !isFieldRune(r, p.pos == start) {
			break
		}
		p.pos += size
	}
	if p.pos == start {
		return KeyPart{}, p.fail(start, `want a field name (letters, digits and "_") after "."`)
	}
	part := KeyPart{Field: p.in[start:p.pos]}
	for {
		p.spaces()
		switch {
		case p.at('}'):
			p.pos++
			return part, nil
		case p.at('|'):
			p.pos++
			p.spaces()
			t, err := p.transform()
			if err != nil {
				return KeyPart{}, err
			}
			part.Transforms = append(part.Transforms, t)
		case p.pos == len(p.in):
			return KeyPart{}, p.fail(p.pos, `missing "}" to close the key template`)
		default:
			return KeyPart{}, p.fail(p.pos, `want "| FUNCTION" or "}" in the key template`)
		}
	}
}

// isFieldRune reports whether r may appear in a template field name, as in a Go
// template: letters, "_" and, after the first, digits.
func isFieldRune(r rune, first bool) bool {
	return r == '_' || unicode.IsLetter(r) || (!first && unicode.IsDigit(r))
}

func (p *parser) version() (int, error) {
	start := p.pos
	for p.pos < len(p.in) {
		if c := p.in[p.pos]; c == '#' || c == ' ' || (p.inline && c == '}') {
			break
		}
		p.pos++
	}
	tok := p.in[start:p.pos]
	if strings.HasPrefix(tok, "{") {
		return 0, p.fail(start, `a JSON body needs a write: start the reference with ">>"`)
	}
	v, err := parseVersion(tok)
	if err != nil {
		return 0, p.fail(start, err.Error())
	}
	return v, nil
}

func parseVersion(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty version")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			// Never the token itself: a secret pasted where the version goes would be
			// quoted in the denial, the events and envexec's termination message.
			return 0, errors.New("the version is not a positive integer")
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > maxVersion {
		return 0, fmt.Errorf("the version must be between 1 and %d", maxVersion)
	}
	return v, nil
}

// body parses a write's JSON object up to its matching "}". Strings are skipped whole,
// so braces and "#" inside them do not count.
func (p *parser) body() (string, error) {
	start := p.pos
	if !p.at('{') {
		return "", p.fail(start, `want a JSON object after "#" in a write`)
	}
	end := jsonEnd(p.in, start)
	if end < 0 {
		return "", p.fail(len(p.in), "unterminated JSON body")
	}
	body := p.in[start:end]
	if !utf8.ValidString(body) {
		return "", p.fail(start, "invalid UTF-8 in the JSON body")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		off := start
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			off = start + int(se.Offset) - 1
		}
		return "", p.fail(off, "the body is not a valid JSON object")
	}
	p.pos = end
	return body, nil
}

// jsonEnd returns the index just past the bracket that closes the one at start, or -1.
func jsonEnd(s string, start int) int {
	depth, inString, escaped := 0, false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// pipeline parses " | FUNC" transforms. At least one space must come before "|": without
// it, "|" is part of the key, as it always was.
func (p *parser) pipeline(out *[]Transform) error {
	for p.at(' ') {
		sp := p.pos
		p.spaces()
		if !p.at('|') {
			return p.fail(sp, `whitespace is not allowed here; a transform is written " | NAME"`)
		}
		p.pos++
		p.spaces()
		t, err := p.transform()
		if err != nil {
			return err
		}
		*out = append(*out, t)
	}
	return nil
}

func (p *parser) transform() (Transform, error) {
	start := p.pos
	for p.pos < len(p.in) && isWordByte(p.in[p.pos]) {
		p.pos++
	}
	name := p.in[start:p.pos]
	fn, ok := lookupFunc(name)
	if !ok {
		return Transform{}, p.fail(start, "unknown transform; want "+funcNames())
	}
	t := Transform{Func: fn.name}
	if !fn.field {
		return t, nil
	}
	if !p.at(' ') {
		return Transform{}, p.fail(p.pos, fn.name+` needs a field, as in "`+fn.name+` db.password"`)
	}
	p.spaces()
	field, err := p.field()
	if err != nil {
		return Transform{}, err
	}
	t.Field = field
	return t, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// field parses a dotted field path such as db.hosts.0 or ."odd.name".x; a leading "." is
// allowed, as in Go templates.
func (p *parser) field() ([]string, error) {
	if p.at('.') {
		p.pos++
	}
	var segs []string
	for {
		seg, err := p.segment()
		if err != nil {
			return nil, err
		}
		segs = append(segs, seg)
		if !p.at('.') {
			return segs, nil
		}
		p.pos++
	}
}

func (p *parser) segment() (string, error) {
	start := p.pos
	if p.at('"') {
		end := quotedEnd(p.in, start)
		var s string
		if end < 0 || json.Unmarshal([]byte(p.in[start:end]), &s) != nil || !utf8.ValidString(p.in[start:end]) {
			return "", p.fail(start, "invalid quoted field name (use JSON string syntax)")
		}
		p.pos = end
		return s, nil
	}
	for p.pos < len(p.in) && !strings.ContainsRune(` .|{}"#`, rune(p.in[p.pos])) {
		if err := p.char(); err != nil {
			return "", err
		}
	}
	if p.pos == start {
		return "", p.fail(start, "empty field name")
	}
	return p.in[start:p.pos], nil
}

// quotedEnd returns the index just past the JSON string starting at start, or -1.
func quotedEnd(s string, start int) int {
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// end checks that the reference stops here: at the end of the value, or at the "}" that
// closes an inline reference.
func (p *parser) end() error {
	if p.pos == len(p.in) {
		if p.inline {
			return p.fail(p.pos, `missing "}" to close the reference`)
		}
		return nil
	}
	c := p.in[p.pos]
	switch {
	case p.inline && c == '}':
		return nil
	case c == '#':
		return p.fail(p.pos, `too many "#": want PATH#KEY, PATH#KEY#VERSION, or PATH#KEY#BODY for a write`)
	}
	off := p.pos
	if err := p.char(); err != nil {
		return err
	}
	return p.fail(off, "unexpected character after the reference")
}
