package registry

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// An answer without a Content-Length is cut at the limit as it streams: exactly the limit
// reads whole, a byte more fails.
func TestBoundedBody(t *testing.T) {
	t.Parallel()
	read := func(n int) ([]byte, error) {
		return io.ReadAll(&boundedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, n))), left: MaxResponseBytes})
	}
	if got, err := read(MaxResponseBytes); err != nil || len(got) != MaxResponseBytes {
		t.Errorf("exactly the limit: %d bytes, %v; want all of it", len(got), err)
	}
	if got, err := read(MaxResponseBytes + 1); !errors.Is(err, ErrTooLarge) || len(got) != MaxResponseBytes {
		t.Errorf("a byte over: %d bytes, %v; want the limit read, then ErrTooLarge", len(got), err)
	}
}
