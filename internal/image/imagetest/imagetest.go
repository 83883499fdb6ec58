// Package imagetest makes stand-in inputs for image builds in tests: binaries that are an
// ELF header image.Build accepts for a GOARCH followed by a payload, and a CA bundle, so a
// test builds an image in milliseconds instead of linking the real binaries.
package imagetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/image"
)

// ELF returns a stand-in executable for goarch (an ELF64 header, with a PT_INTERP program
// header when dynamic, as a cgo build has) followed by payload.
func ELF(t testing.TB, goarch string, dynamic bool, payload string) []byte {
	t.Helper()
	machine, ok := image.ELFMachine(goarch)
	if !ok {
		t.Fatalf("imagetest: no ELF machine for %q", goarch)
	}
	le := binary.LittleEndian
	b := []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = le.AppendUint16(b, uint16(elf.ET_EXEC))
	b = le.AppendUint16(b, uint16(machine))
	b = le.AppendUint32(b, uint32(elf.EV_CURRENT))
	b = le.AppendUint64(b, 0) // entry
	phoff, phnum := uint64(0), uint16(0)
	if dynamic {
		phoff, phnum = 64, 1
	}
	b = le.AppendUint64(b, phoff)
	b = le.AppendUint64(b, 0) // no section headers
	b = le.AppendUint32(b, 0) // flags
	b = le.AppendUint16(b, 64)
	b = le.AppendUint16(b, 56)
	b = le.AppendUint16(b, phnum)
	b = le.AppendUint16(b, 64)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, 0)
	if dynamic {
		b = le.AppendUint32(b, uint32(elf.PT_INTERP))
		b = append(b, make([]byte, 52)...) // flags, offset, addresses, sizes, align: all zero
	}
	return append(b, payload...)
}

// Binaries writes a static stand-in for each of image.Binaries for goarch into a new
// directory, each with its own name as payload, and returns the directory.
func Binaries(t testing.TB, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range image.Binaries {
		if err := os.WriteFile(filepath.Join(dir, name), ELF(t, goarch, false, "stand-in for "+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// CABundle writes a PEM file with one self-signed CA certificate, a stand-in for the build
// host's bundle, and returns its path.
func CABundle(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "imagetest CA"},
		NotBefore: notBefore, NotAfter: notBefore.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca-certificates.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
