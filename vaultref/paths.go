package vaultref

import (
	"strconv"
	"strings"
)

// PathRef is one entry of a from-path list: every key of the secret at Path becomes an
// environment variable of the same name.
type PathRef struct {
	// Path is the Vault API path as written, with the same rules as in a reference.
	Path string
	// Version pins a KV v2 version; 0 means the latest.
	Version int
}

// String renders the entry as PATH or PATH#VERSION.
func (p PathRef) String() string {
	if p.Version > 0 {
		return p.Path + "#" + strconv.Itoa(p.Version)
	}
	return p.Path
}

// ParsePathList parses a comma-separated list of PATH[#VERSION] entries (spaces around
// entries are ignored), so the webhook validates a from-path setting exactly as envexec
// reads it. An empty list gives no entries. Errors are *ParseError with offsets into list.
func ParsePathList(list string) ([]PathRef, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []PathRef
	start := 0
	for start <= len(list) {
		end := strings.IndexByte(list[start:], ',')
		if end < 0 {
			end = len(list)
		} else {
			end += start
		}
		ref, err := parsePathEntry(list[:end], start)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
		start = end + 1
	}
	return out, nil
}

func parsePathEntry(in string, start int) (PathRef, error) {
	for start < len(in) && in[start] == ' ' {
		start++
	}
	trimmed := strings.TrimRight(in, " ")
	if len(trimmed) < start {
		trimmed = in[:start] // a blank entry: report an empty path where it should be
	}
	p := &parser{in: trimmed, pos: start}
	path, err := p.path()
	if err != nil {
		return PathRef{}, err
	}
	ref := PathRef{Path: path}
	if p.at('#') {
		p.pos++
		if ref.Version, err = p.version(); err != nil {
			return PathRef{}, err
		}
	}
	if p.pos != len(p.in) {
		return PathRef{}, p.fail(p.pos, `want PATH or PATH#VERSION between commas`)
	}
	return ref, nil
}
