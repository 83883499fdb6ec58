package metrics

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// blocked is a family whose write waits until release closes.
type blocked struct {
	started chan struct{}
	release chan struct{}
}

func (blocked) Names() []string { return []string{"blocked"} }

func (b blocked) write(out []byte) []byte {
	b.started <- struct{}{}
	<-b.release
	return out
}

// TestScrapesAreBounded: while maxScrapes pages are being written, another scrape is
// refused with 503 at once; once they are done, scrapes are served again.
func TestScrapesAreBounded(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	// started has room for one more write than the bound, the last scrape's, after release.
	b := blocked{started: make(chan struct{}, maxScrapes+1), release: make(chan struct{})}
	if err := reg.Register(b); err != nil {
		t.Fatal(err)
	}
	scrape := func() int {
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
		return w.Code
	}
	var wg sync.WaitGroup
	codes := make(chan int, maxScrapes)
	for range maxScrapes {
		wg.Go(func() { codes <- scrape() })
		<-b.started
	}
	if code := scrape(); code != http.StatusServiceUnavailable {
		t.Errorf("scrape beyond %d at once: status %d, want 503", maxScrapes, code)
	}
	close(b.release)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("a scrape within the bound: status %d", code)
		}
	}
	if code := scrape(); code != http.StatusOK {
		t.Errorf("after the others finished: status %d, want 200", code)
	}
}
