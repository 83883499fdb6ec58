package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/vault-injector/vault-injector/internal/syncbuf"
)

func TestConcurrentWritesAndReads(t *testing.T) {
	t.Parallel()
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := b.Write([]byte("x")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	got := b.Bytes()
	if string(got) != strings.Repeat("x", 800) || b.String() != string(got) {
		t.Fatalf("got %d bytes", len(got))
	}
	got[0] = 'y'
	if b.String()[0] != 'x' {
		t.Error("Bytes returned the buffer itself, not a copy")
	}
}
