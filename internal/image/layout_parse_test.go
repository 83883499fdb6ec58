package image_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/vault-injector/vault-injector/internal/image"
)

// productLayout is what a user of the image sees of it: the base it stands on, the files
// the Dockerfile copies in (path → mode and owner) and the config. Both the Dockerfile and
// a built image reduce to one, and the two must be equal.
type productLayout struct {
	Base       string
	Files      map[string]fileAttrs
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Labels     map[string]string
}

type fileAttrs struct {
	Mode  fs.FileMode
	Owner string // uid:gid
}

// goBuild is what matters of a go build command for the binary it makes.
type goBuild struct {
	CGOEnabled string
	Trimpath   bool
	NoVCS      bool // -buildvcs=false: the commit comes from -X, not from a .git a copy may lack
	LDFlags    []string
}

var (
	ldflagsRE = regexp.MustCompile(`-ldflags="([^"]*)"`)
	// varRE is a make $(VAR) or a shell ${VAR}; both become VAR, so the two files compare.
	varRE = regexp.MustCompile(`\$[({](\w+)[)}]`)
)

func parseGoBuild(cmd, cgo string) goBuild {
	fields := strings.Fields(cmd)
	b := goBuild{CGOEnabled: cgo, Trimpath: slices.Contains(fields, "-trimpath"), NoVCS: slices.Contains(fields, "-buildvcs=false")}
	if m := ldflagsRE.FindStringSubmatch(cmd); m != nil {
		b.LDFlags = strings.Fields(varRE.ReplaceAllString(m[1], "$1"))
	}
	return b
}

// makeGoBuild reads the Makefile's GO_BUILD, with the GO_ENV it starts with expanded.
func makeGoBuild(makefile string) (goBuild, error) {
	lines := joinContinuations(makefile)
	goEnv := ""
	for _, line := range lines {
		if def, ok := strings.CutPrefix(line, "GO_ENV :="); ok {
			goEnv = def
		}
	}
	for _, line := range lines {
		if def, ok := strings.CutPrefix(line, "GO_BUILD :="); ok {
			def = strings.ReplaceAll(def, "$(GO_ENV)", goEnv)
			cgo := regexp.MustCompile(`CGO_ENABLED=(\S+)`).FindStringSubmatch(def)
			if cgo == nil {
				return goBuild{}, errors.New("GO_BUILD does not set CGO_ENABLED")
			}
			return parseGoBuild(def, cgo[1]), nil
		}
	}
	return goBuild{}, errors.New("the Makefile defines no GO_BUILD")
}

// dockerGoBuilds reads the go builds of the Dockerfile's build stage: the && parts of its
// RUN instructions that call go build, with the stage's ENV CGO_ENABLED.
func dockerGoBuilds(dockerfile string) ([]goBuild, error) {
	ins, err := instructions(dockerfile)
	if err != nil {
		return nil, err
	}
	cgo := "(unset)"
	var out []goBuild
	for _, in := range ins[:finalStageStart(ins)] {
		switch in.cmd {
		case "ENV":
			if v, ok := strings.CutPrefix(in.args, "CGO_ENABLED="); ok {
				cgo = v
			}
		case "RUN":
			for cmd := range strings.SplitSeq(in.args, "&&") {
				if strings.Contains(cmd, "go build") {
					out = append(out, parseGoBuild(cmd, cgo))
				}
			}
		}
	}
	return out, nil
}

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct{ cmd, args string }

// joinContinuations returns the logical lines of a Dockerfile or Makefile: lines ending in
// a backslash are joined with the next, comment lines are dropped, as Docker does.
func joinContinuations(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body)
			continue
		}
		cur.WriteString(line)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

func instructions(dockerfile string) ([]instruction, error) {
	var out []instruction
	for _, line := range joinContinuations(dockerfile) {
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	if finalStageStart(out) == len(out) {
		return nil, errors.New("the Dockerfile has no FROM")
	}
	return out, nil
}

func finalStageStart(ins []instruction) int {
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].cmd == "FROM" {
			return i
		}
	}
	return len(ins)
}

// dockerfileLayout reduces the Dockerfile's final stage, built with --build-arg
// VERSION=version, to the layout it gives on its base. An instruction it does not know
// is an error, so a new one is never silently ignored.
func dockerfileLayout(dockerfile, version string) (productLayout, error) {
	ins, err := instructions(dockerfile)
	if err != nil {
		return productLayout{}, err
	}
	env, workDir := image.BaseConfig()
	l := productLayout{Files: map[string]fileAttrs{}, Env: slices.Clone(env), WorkingDir: workDir, Labels: map[string]string{}}
	for _, in := range ins[finalStageStart(ins):] {
		args := strings.NewReplacer("${VERSION}", version, "$VERSION", version).Replace(in.args)
		if err := l.apply(in.cmd, args); err != nil {
			return productLayout{}, fmt.Errorf("%s %s: %w", in.cmd, in.args, err)
		}
	}
	return l, nil
}

func (l *productLayout) apply(cmd, args string) error {
	var err error
	switch cmd {
	case "FROM":
		l.Base = strings.Fields(args)[0]
	case "ARG":
		// VERSION is substituted with the build argument; other arguments reach the image
		// only through instructions handled here.
	case "LABEL", "ENV":
		err = l.keyValues(cmd, args)
	case "COPY":
		err = l.copyFiles(args)
	case "USER":
		l.User = args
	case "WORKDIR":
		l.WorkingDir = args
	case "ENTRYPOINT":
		l.Entrypoint, err = execForm(args)
	case "CMD":
		l.Cmd, err = execForm(args)
	default:
		err = errors.New("this test does not know the instruction: teach it and internal/image")
	}
	return err
}

func (l *productLayout) keyValues(cmd, args string) error {
	for _, w := range words(args) {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", w)
		}
		if cmd == "LABEL" {
			l.Labels[k] = v
			continue
		}
		l.Env = slices.DeleteFunc(l.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		l.Env = append(l.Env, k+"="+v)
	}
	return nil
}

// copyFiles records COPY --from=STAGE SRC... DIR/: each source's base name in DIR, owned
// by root and executable (go build's mode) unless --chown or --chmod say otherwise.
func (l *productLayout) copyFiles(args string) error {
	attrs := fileAttrs{Mode: 0o755, Owner: "0:0"}
	fields := strings.Fields(args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(fields[0], "--"), "=")
		switch k {
		case "from":
		case "chown":
			attrs.Owner = v
		case "chmod":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return fmt.Errorf("--chmod: %w", err)
			}
			attrs.Mode = fs.FileMode(m)
		default:
			return fmt.Errorf("unknown flag --%s", k)
		}
		fields = fields[1:]
	}
	if len(fields) < 2 || !strings.HasSuffix(fields[len(fields)-1], "/") {
		return errors.New("want sources and a destination directory ending in /")
	}
	dest := fields[len(fields)-1]
	for _, src := range fields[:len(fields)-1] {
		l.Files[dest+path.Base(src)] = attrs
	}
	return nil
}

func execForm(args string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, fmt.Errorf("not the JSON exec form: %w", err)
	}
	return out, nil
}

// words splits LABEL and ENV arguments at unquoted spaces, removing the double quotes
// and the backslashes that escape a character inside them.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, escaped, started := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted, started = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}

// imageLayout reduces a built image to its layout: the files outside the emulated base's
// (the flattened filesystem, later layers over earlier ones) and the config.
func imageLayout(t *testing.T, img v1.Image) productLayout {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	l := productLayout{
		Base: image.EmulatedBase, Files: map[string]fileAttrs{}, User: c.User, Entrypoint: c.Entrypoint,
		Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, Labels: maps.Clone(c.Labels),
	}
	base := image.BaseFiles()
	for _, hdr := range flatten(t, img) {
		name := "/" + strings.TrimPrefix(hdr.Name, "/")
		if hdr.Typeflag == tar.TypeDir || base[name] {
			continue
		}
		l.Files[name] = fileAttrs{Mode: hdr.FileInfo().Mode().Perm(), Owner: fmt.Sprintf("%d:%d", hdr.Uid, hdr.Gid)}
	}
	return l
}

// flatten is the image's filesystem as a runtime unpacks it: each path as its last layer
// wrote it.
func flatten(t *testing.T, img v1.Image) []*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	var out []*tar.Header
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr)
	}
}
