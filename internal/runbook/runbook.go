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
				cur = &Block{Line: n, Skip: pending}
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
