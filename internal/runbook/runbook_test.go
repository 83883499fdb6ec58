package runbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	md := "# T\n\n<!-- runbook: the test sets it -->\n```sh\nexport A=1\n```\n\n```yaml\nx: 1\n```\n" +
		"<!-- runbook: a marker lost by prose -->\n## Two\n````sh\necho \"```\"\nB=2\n# not a heading\n````\n  ```bash\n  echo $B\n  ```\n"
	blocks, err := Parse([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Line: 4, Script: "export A=1\n", Skip: "the test sets it", Section: "T"},
		{Line: 13, Script: "echo \"```\"\nB=2\n# not a heading\n", Section: "Two"},
		{Line: 18, Script: "  echo $B\n", Section: "Two"},
	}
	if len(blocks) != len(want) {
		t.Fatalf("got %d blocks %+v, want %d", len(blocks), blocks, len(want))
	}
	for i := range want {
		if blocks[i] != want[i] {
			t.Errorf("block %d: got %+v, want %+v", i, blocks[i], want[i])
		}
	}
	if two := In(blocks, "Two"); len(two) != 2 || two[0].Line != 13 {
		t.Errorf("In(Two) = %+v", two)
	}
	s := Script("doc.md", blocks)
	if strings.Contains(s, "export A=1") || !strings.Contains(s, "B=2\n") || !strings.HasPrefix(s, "set -euo pipefail\n") ||
		!strings.Contains(s, `echo "+ doc.md:18" >&2`) {
		t.Errorf("script:\n%s", s)
	}
}

func TestParseErrors(t *testing.T) {
	for name, md := range map[string]string{
		"unclosed":  "```sh\necho\n",
		"no reason": "<!-- runbook: -->\n```sh\necho\n```\n",
	} {
		if _, err := Parse([]byte(md)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	page := filepath.Join(t.TempDir(), "page.md")
	if err := os.WriteFile(page, []byte("# A\n```sh\necho a\n```\n## B\n```sh\necho b\n```\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(page, "B")
	if err != nil || strings.Contains(s, "echo a") || !strings.Contains(s, "echo b") {
		t.Errorf("Load(B) = %q, %v", s, err)
	}
	if s, err := Load(page); err != nil || !strings.Contains(s, "echo a") || !strings.Contains(s, "echo b") {
		t.Errorf("Load() = %q, %v", s, err)
	}
	if _, err := Load(page, "C"); err == nil {
		t.Error("a section without commands loaded")
	}
}
