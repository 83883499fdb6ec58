// Package load is a closed-loop HTTP load generator: a fixed number of clients each send
// one request, wait for and check the whole response, and send the next, for a fixed time.
// Every latency is kept, so percentiles are exact rather than estimated.
package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Body is one prepared request body and the admission uid its response must echo.
type Body struct {
	// UID is the request's uid.
	UID string
	// Data is the request body.
	Data []byte
}

// Check validates one response; a non-nil error counts the request as failed.
type Check func(status int, body []byte, uid string) error

// Options describe one run against one URL.
type Options struct {
	// URL receives every request as a POST.
	URL string
	// Client sends the requests; its transport decides HTTP/2 and keep-alive.
	Client *http.Client
	// Bodies are sent round-robin; several uids let the check catch mixed-up responses.
	Bodies []Body
	// Clients is the number of concurrent closed-loop clients.
	Clients int
	// Duration is how long clients start new requests; those in flight then still finish.
	Duration time.Duration
	// Check validates every response.
	Check Check
}

// maxErrorSamples bounds the error messages kept for the report.
const maxErrorSamples = 5

// Run drives the URL and returns what it measured. It fails only when it cannot run at
// all; failed requests are counted in the result.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Clients < 1 || len(o.Bodies) == 0 || o.Duration <= 0 || o.Client == nil || o.Check == nil {
		return Result{}, fmt.Errorf("load: need clients, bodies, a duration, a client and a check (got %d clients, %d bodies, %s)",
			o.Clients, len(o.Bodies), o.Duration)
	}
	workers := make([]worker, o.Clients)
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { workers[i].loop(ctx, &o, i, deadline) })
	}
	wg.Wait()
	return summarize(workers, o.Clients, time.Since(start)), nil
}

// worker is one closed-loop client and what it recorded.
type worker struct {
	latencies []time.Duration
	errors    int
	samples   []string
	proto     string
	buf       bytes.Buffer
}

func (w *worker) loop(ctx context.Context, o *Options, id int, deadline time.Time) {
	w.latencies = make([]time.Duration, 0, 4096)
	for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		b := o.Bodies[(id+n*o.Clients)%len(o.Bodies)]
		start := time.Now()
		status, err := w.do(ctx, o, b.Data)
		elapsed := time.Since(start)
		if err == nil {
			err = o.Check(status, w.buf.Bytes(), b.UID)
		}
		if err != nil {
			w.fail(err)
			continue
		}
		w.latencies = append(w.latencies, elapsed)
	}
}

// do sends one request and reads the whole response into w.buf.
func (w *worker) do(ctx context.Context, o *Options, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	w.buf.Reset()
	if _, err := w.buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read response: %w", err)
	}
	if w.proto == "" {
		w.proto = resp.Proto
	}
	return resp.StatusCode, nil
}

func (w *worker) fail(err error) {
	w.errors++
	if len(w.samples) < maxErrorSamples {
		w.samples = append(w.samples, err.Error())
	}
}
