//go:build !linux

package envexec

// becomeSubreaper is a no-op where there is no child subreaper; as PID 1 envexec still
// adopts orphans.
func becomeSubreaper() error { return nil }
