package envexec

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// environSeals make the memfd immutable: no write, no resize, no change of the seals.
const environSeals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// sealEnviron writes environ to a new memfd, seals it and returns its descriptor. The
// descriptor is inherited across exec (no MFD_CLOEXEC): the second stage reads it.
func sealEnviron(environ []string) (int, error) {
	fd, err := unix.MemfdCreate("envexec-environ", unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := writeSealed(fd, encodeEnviron(environ)); err != nil {
		return -1, errors.Join(err, unix.Close(fd))
	}
	return fd, nil
}

func writeSealed(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing the memfd: %w", err)
		}
		data = data[n:]
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, environSeals); err != nil {
		return fmt.Errorf("sealing the memfd: %w", err)
	}
	return nil
}

// readSealedEnviron reads the environment from fd and closes it, so neither the
// application nor a daemon-mode child inherits it. fd must be a memfd with every seal
// of environSeals: its content cannot change while, or after, it is read.
func readSealedEnviron(fd int) ([]string, error) {
	f := os.NewFile(uintptr(fd), "environ")
	defer f.Close()
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("not a sealed memfd: %w", err)
	}
	if seals&environSeals != environSeals {
		return nil, fmt.Errorf("the memfd is not sealed (seals %#x, want %#x)", seals, environSeals)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxEnviron {
		return nil, fmt.Errorf("%d bytes, more than the %d an environment can hold", fi.Size(), maxEnviron)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, fi.Size()), data); err != nil {
		return nil, err
	}
	return decodeEnviron(data)
}
