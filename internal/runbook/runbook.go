// Package runbook reads the shell blocks of a Markdown runbook, so that a test can run every
// command a document tells its reader to run, in the document's order.
package runbook

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	var p parser
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := p.line(n, sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	if p.fence != "" {
		return nil, fmt.Errorf("a code fence is not closed")
	}
	return p.blocks, nil
}

// parser is Parse's state between lines.
type parser struct {
	blocks  []Block
	cur     *Block // the sh block being read, if any
	body    strings.Builder
	fence   string // the open fence's backticks, inside any code block
	pending string // the skip reason for the next block
	section string
}

// line takes one line of the document.
func (p *parser) line(n int, line string) error {
	trimmed := strings.TrimSpace(line)
	switch {
	case p.fence != "":
		p.inFence(trimmed, line)
	case strings.HasPrefix(trimmed, "```"):
		ticks := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
		p.fence = trimmed[:ticks]
		if lang := strings.TrimSpace(trimmed[ticks:]); lang == "sh" || lang == "bash" {
			p.cur = &Block{Line: n, Skip: p.pending, Section: p.section}
			p.body.Reset()
		}
		p.pending = ""
	case strings.HasPrefix(trimmed, skipMarker):
		reason := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trimmed, skipMarker), "-->"))
		if reason == "" {
			return fmt.Errorf("line %d: a runbook marker must say why the block is not run", n)
		}
		p.pending = reason
	case strings.HasPrefix(trimmed, "#"):
		p.section = strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
		p.pending = ""
	case trimmed != "":
		p.pending = ""
	}
	return nil
}

// inFence takes a line inside a code block: the closing fence ends it.
func (p *parser) inFence(trimmed, line string) {
	if trimmed != p.fence {
		if p.cur != nil {
			p.body.WriteString(line)
			p.body.WriteByte('\n')
		}
		return
	}
	if p.cur != nil {
		p.cur.Script = p.body.String()
		p.blocks = append(p.blocks, *p.cur)
		p.cur = nil
	}
	p.fence = ""
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

// Shell runs runbook scripts with bash in a folder of its own, with the tools' folders
// first on PATH and that folder as HOME, so a tool's own state (the vault token helper,
// kubectl's cache) stays out of the user's.
type Shell struct {
	dir string
	env []string
}

// NewShell makes a shell in dir; tools are binaries whose folders go first on PATH, vars
// are the variables a runbook asks its reader to set.
func NewShell(dir string, tools []string, vars map[string]string) *Shell {
	path := make([]string, 0, len(tools)+1)
	for _, t := range tools {
		path = append(path, filepath.Dir(t))
	}
	path = append(path, "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
	env := []string{"PATH=" + strings.Join(path, ":"), "HOME=" + dir}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return &Shell{dir: dir, env: env}
}

// Run runs a script and returns its standard output and error, interleaved.
func (s *Shell) Run(ctx context.Context, script string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// LastLine is the last non-empty line of out, trimmed: what a runbook's final command printed.
func LastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Load reads a runbook and returns the script of its blocks under the sections named (all
// of them when none is named); a page with no such block is an error, so a renamed
// heading cannot leave a test running nothing.
func Load(file string, sections ...string) (string, error) {
	md, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	blocks, err := Parse(md)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	if len(sections) > 0 {
		blocks = In(blocks, sections...)
	}
	if len(blocks) == 0 {
		return "", fmt.Errorf("%s has no shell blocks under %q", file, sections)
	}
	return Script(file, blocks), nil
}
