// Package buildinfo says which build a binary is, for `vault-injector version`, `envexec
// version` and the webhook's build-info metric: the version and commit that make stamps
// with -ldflags -X, and what the Go toolchain recorded (its version, the platform, every
// module linked in). It uses the standard library only, because envexec imports it.
package buildinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set by make (and the Dockerfile):
//
//	-X github.com/vault-injector/vault-injector/internal/buildinfo.version=v1.2.3
//	-X github.com/vault-injector/vault-injector/internal/buildinfo.commit=<git commit>
var version, commit string

// Unknown stands for a commit the build did not record (a `go build` without make).
const Unknown = "unknown"

// Info describes one build. Its JSON form is what `version --json` prints.
type Info struct {
	// Version is the release (v1.2.3), git describe's output, or "dev".
	Version string `json:"version"`
	// Commit is the full git commit the binary was built from, or Unknown.
	Commit string `json:"commit"`
	// GoVersion is the toolchain that built the binary: a rebuild needs the same one.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// Modules are the modules linked in besides the main one, sorted by path.
	Modules []Module `json:"modules"`
}

// Module is one dependency as the build recorded it, so an SBOM or a vulnerability
// scanner can be checked against the binary itself.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
	// Replace is the module that replaced this one, if any.
	Replace *Module `json:"replace,omitempty"`
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version, commit)
}

// fromBuildInfo combines what make stamped with what Go recorded; an unstamped build
// falls back to Go's module version and VCS revision (a `go install pkg@v1.2.3`).
func fromBuildInfo(bi *debug.BuildInfo, stampedVersion, stampedCommit string) Info {
	info := Info{
		Version: stampedVersion, Commit: stampedCommit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Modules: []Module{},
	}
	if bi != nil {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
		for _, d := range bi.Deps {
			info.Modules = append(info.Modules, module(d))
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = Unknown
	}
	return info
}

func module(d *debug.Module) Module {
	m := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
	if d.Replace != nil {
		r := module(d.Replace)
		m.Replace = &r
	}
	return m
}

// ErrUsage marks a wrong `version` command line; callers exit 2 as for other usage errors.
var ErrUsage = errors.New("usage: version [--json]")

// Command runs `NAME version [--json]` with the arguments after "version": the text form
// names one module per line, the JSON form is Info.
func Command(name string, args []string, stdout io.Writer) error {
	asJSON := false
	switch {
	case len(args) == 0:
	case len(args) == 1 && (args[0] == "--json" || args[0] == "-json"):
		asJSON = true
	default:
		return ErrUsage
	}
	info := Read()
	if asJSON {
		return json.NewEncoder(stdout).Encode(info)
	}
	_, err := io.WriteString(stdout, info.Text(name))
	return err
}

// Text is the human form: the version line, then the commit, Go and each module.
func (i Info) Text(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\ncommit   %s\ngo       %s %s\n", name, i.Version, i.Commit, i.GoVersion, i.Platform)
	for _, m := range i.Modules {
		fmt.Fprintf(&b, "module   %s %s", m.Path, m.Version)
		if m.Replace != nil {
			fmt.Fprintf(&b, " => %s %s", m.Replace.Path, m.Replace.Version)
		}
		b.WriteString("\n")
	}
	return b.String()
}
