package image

import (
	"bytes"
	"crypto/x509"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options are all the inputs of a build: the same Options over the same files give the
// same image digest. Nothing else reaches the image (no clock, no host file modes, owners
// or times).
type Options struct {
	// BinDir holds the built binaries, named as in Binaries.
	BinDir string
	// CACerts is the CA bundle to install at CABundle; make passes the build host's
	// /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates package).
	CACerts string
	// Version is the org.opencontainers.image.version label.
	Version string
	// Arch is the GOARCH the binaries were built for; the platform is linux/Arch.
	Arch string
	// Created is every timestamp in the image (SOURCE_DATE_EPOCH), so that a rebuild of the
	// same commit has the same digest.
	Created time.Time
}

// elfMachines maps the GOARCHs an image can be built for to their ELF machine.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// ELFMachine is the ELF machine of a GOARCH, so a build can refuse binaries built for
// another platform than the one the image declares.
func ELFMachine(goarch string) (elf.Machine, bool) {
	m, ok := elfMachines[goarch]
	return m, ok
}

// Build assembles the image: one layer with the base files (accounts, CA bundle, /tmp),
// one with the binaries (the Dockerfile's COPY), and the Dockerfile's config.
func Build(o Options) (v1.Image, error) {
	if o.Version == "" {
		return nil, errors.New("image: no version")
	}
	ca, err := readCABundle(o.CACerts)
	if err != nil {
		return nil, err
	}
	bins, err := readBinaries(o.BinDir, o.Arch)
	if err != nil {
		return nil, err
	}
	base, err := newLayer(baseEntries(ca), o.Created)
	if err != nil {
		return nil, fmt.Errorf("image: base layer: %w", err)
	}
	app, err := newLayer(binEntries(bins), o.Created)
	if err != nil {
		return nil, fmt.Errorf("image: binaries layer: %w", err)
	}
	img, err := mutate.ConfigFile(empty.Image, config(o))
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	created := v1.Time{Time: o.Created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "base files of " + EmulatedBase + " (hack/image)"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: created, CreatedBy: "COPY vault-injector envexec " + BinDir + "/ (hack/image)"}},
	)
	if err != nil {
		return nil, fmt.Errorf("image: layers: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// config is the Dockerfile's: the base's environment and working directory, then its own
// USER, ENTRYPOINT and LABELs.
func config(o Options) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: o.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: o.Created},
		Config: v1.Config{
			User:       User,
			Entrypoint: Entrypoint(),
			Env:        baseEnv,
			WorkingDir: baseWorkDir,
			Labels:     Labels(o.Version),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

func readCABundle(path string) ([]byte, error) {
	ca, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image: CA bundle (Debian's ca-certificates package provides it): %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("image: CA bundle %s holds no PEM certificate", path)
	}
	return ca, nil
}

// readBinaries reads each of Binaries from dir, refusing any that is not a static ELF
// executable for arch: the base has no libc, and the config declares linux/arch.
func readBinaries(dir, arch string) (map[string][]byte, error) {
	machine, ok := ELFMachine(arch)
	if !ok {
		return nil, fmt.Errorf("image: unsupported GOARCH %q", arch)
	}
	out := make(map[string][]byte, len(Binaries))
	for _, name := range Binaries {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("image: binary: %w", err)
		}
		if err := checkELF(data, machine); err != nil {
			return nil, fmt.Errorf("image: %s: %w", path, err)
		}
		out[name] = data
	}
	return out, nil
}

func checkELF(data []byte, machine elf.Machine) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a Linux executable: %w", err)
	}
	if f.Machine != machine {
		return fmt.Errorf("built for %s, the image is for %s", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (build with CGO_ENABLED=0): the base has no libc")
		}
	}
	return nil
}
