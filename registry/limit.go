package registry

import (
	"fmt"
	"io"
	"net/http"
)

// MaxResponseBytes bounds what the resolver reads of any one registry answer: a
// manifest, an index, an image config, a token. The registry may be the pod author's, and
// go-containerregistry reads each answer into memory whole, a config with no limit at
// all: one pod naming an image with a 384 MiB config took a replica past 1.4 GiB. Real
// answers are kilobytes; containerd caps a manifest at 4 MiB, and 1 MiB holds an index of
// two thousand platforms or a config with thousands of history entries.
const MaxResponseBytes = 1 << 20

// ErrTooLarge refuses a registry answer larger than MaxResponseBytes. It is the
// registry's doing, not an outage: asking again gets the same answer.
var ErrTooLarge = fmt.Errorf("its answer is larger than %d KiB, more than any image's manifest or config needs", MaxResponseBytes>>10)

// boundedBodies refuses an answer that announces more than MaxResponseBytes, and stops
// reading one that sends more.
type boundedBodies struct{ next http.RoundTripper }

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.ContentLength > MaxResponseBytes {
		_ = resp.Body.Close() // refused unread
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, ErrTooLarge)
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

// boundedBody reads at most left more bytes, then fails with ErrTooLarge if the answer
// goes on.
type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Past the limit: one byte more tells an answer of exactly the limit from a longer one.
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
