// Package runbook reads the shell blocks of a Markdown runbook, so that a test can run every
// command a document tells its reader to run, in the document's order.
package runbook

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// skipMarker, on the line before a fence, says why the test does not run that block (it
// sets what the block sets itself, for example); the reason is required.
const skipMarker = "<!-- runbook:"

// Block is one fenced ```sh block of a document.
type Block struct {
	// Line is the 1-based line of the opening fence, for messages.
	Line int
	// Script is the block's text.
	Script string
	// Skip is why the test does not run the block; empty for a block it runs.
	Skip string
	// Section is the title of the nearest heading above the block ("" before the first),
	// so a test can run one part of a page against the situation it describes.
	Section string
}

// Parse returns the ```sh blocks of a Markdown document in order. Blocks of other languages
// are ignored; an unclosed fence or a skip marker with no reason is an error.
func Parse(md []byte) ([]Block, error) {
	var (
		blocks  []Block
		cur     *Block
		body    strings.Builder
		pending string
		fence   string
		section string
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur != nil || fence != "" {
			if trimmed == fence {
				if cur != nil {
					cur.Script = body.String()
					blocks = append(blocks, *cur)
					cur = nil
				}
				fence = ""
				continue
			}
			if cur != nil {
				body.WriteString(line)
				body.WriteByte('\n')
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			ticks := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
			fence = trimmed[:ticks]
			if lang := strings.TrimSpace(trimmed[ticks:]); lang == "sh" || lang == "bash" {
				cur = &Block{Line: n, Skip: pending, Section: section}
				body.Reset()
			}
			pending = ""
			continue
		}
		if strings.HasPrefix(trimmed, skipMarker) {
			reason := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trimmed, skipMarker), "-->"))
			if reason == "" {
				return nil, fmt.Errorf("line %d: a runbook marker must say why the block is not run", n)
			}
			pending = reason
			continue
		}
		if title, ok := strings.CutPrefix(trimmed, "#"); ok {
			section = strings.TrimSpace(strings.TrimLeft(title, "#"))
		}
		if trimmed != "" {
			pending = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	if fence != "" {
		return nil, fmt.Errorf("a code fence is not closed")
	}
	return blocks, nil
}

// In returns the blocks under the headings named.
func In(blocks []Block, sections ...string) []Block {
	var out []Block
	for _, b := range blocks {
		for _, s := range sections {
			if b.Section == s {
				out = append(out, b)
			}
		}
	}
	return out
}

// Script joins the blocks that are run into one bash script that stops at the first failing
// command; each block is announced on standard error with its line in file, so a failure
// names the command that broke.
func Script(file string, blocks []Block) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	for _, bl := range blocks {
		if bl.Skip != "" {
			continue
		}
		fmt.Fprintf(&b, "echo %q >&2\n", fmt.Sprintf("+ %s:%d", file, bl.Line))
		b.WriteString(bl.Script)
	}
	return b.String()
}
