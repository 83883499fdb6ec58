package buildinfo

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "example.com/m", Version: "v1.4.0"},
		Deps: []*debug.Module{
			{Path: "a.example/x", Version: "v0.1.0", Sum: "h1:abc="},
			{Path: "b.example/y", Version: "v0.2.0", Replace: &debug.Module{Path: "c.example/y", Version: "v0.2.1"}},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "f00d"}},
	}
	tests := map[string]struct {
		bi                      *debug.BuildInfo
		version, commit         string
		wantVersion, wantCommit string
	}{
		"stamped by make wins":          {bi: bi, version: "v2.0.0", commit: "beef", wantVersion: "v2.0.0", wantCommit: "beef"},
		"go install pkg@version":        {bi: bi, wantVersion: "v1.4.0", wantCommit: "f00d"},
		"devel build without VCS stamp": {bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, wantVersion: "dev", wantCommit: Unknown},
		"no build info":                 {bi: nil, wantVersion: "dev", wantCommit: Unknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			info := fromBuildInfo(tc.bi, tc.version, tc.commit)
			if info.Version != tc.wantVersion || info.Commit != tc.wantCommit {
				t.Errorf("version %q commit %q, want %q %q", info.Version, info.Commit, tc.wantVersion, tc.wantCommit)
			}
			if info.Modules == nil {
				t.Error("modules is nil; the JSON form must be a list")
			}
		})
	}
	info := fromBuildInfo(bi, "", "")
	if info.GoVersion != "go1.99.1" || len(info.Modules) != 2 || info.Modules[0].Sum != "h1:abc=" ||
		info.Modules[1].Replace == nil || info.Modules[1].Replace.Path != "c.example/y" {
		t.Errorf("info %+v does not carry the build's Go version and modules", info)
	}
	text := info.Text("tool")
	for _, want := range []string{"tool v1.4.0\n", "commit   f00d\n", "go       go1.99.1 ", "module   a.example/x v0.1.0\n", "module   b.example/y v0.2.0 => c.example/y v0.2.1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Command("tool", nil, &out); err != nil {
		t.Fatal(err)
	}
	if want := Read().Text("tool"); out.String() != want {
		t.Errorf("text form %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := Command("tool", []string{"--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var got Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if want := Read(); got.Version != want.Version || got.GoVersion != want.GoVersion || len(got.Modules) != len(want.Modules) {
		t.Errorf("--json printed %+v, want %+v", got, want)
	}
	for _, args := range [][]string{{"--yaml"}, {"--json", "x"}, {"-v"}} {
		out.Reset()
		if err := Command("tool", args, &out); !errors.Is(err, ErrUsage) || out.Len() != 0 {
			t.Errorf("version %q: %v, printed %q; want a usage error and nothing printed", args, err, out.String())
		}
	}
}
