//go:build !linux

package envexec

import "errors"

// errNoMemfd fails the re-exec closed where there is no memfd (envexec runs on Linux).
var errNoMemfd = errors.New("memfd_create is Linux-only")

func sealEnviron([]string) (int, error) { return -1, errNoMemfd }

func readSealedEnviron(int) ([]string, error) { return nil, errNoMemfd }
