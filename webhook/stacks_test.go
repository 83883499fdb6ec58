package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/webhook"
)

// goroutineID is the running goroutine's number, read from its stack trace's header
// ("goroutine 42 [running]:"); tests only.
func goroutineID(t *testing.T) int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	field, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	id, err := strconv.Atoi(string(field))
	if err != nil {
		t.Errorf("no goroutine number in %q", buf)
	}
	return id
}

// serveFromNewGoroutine sends one request from a goroutine of its own, as the HTTP/2
// server does, and returns the goroutine the handler ran on and the caller's.
func serveFromNewGoroutine(t *testing.T, h http.Handler, ran <-chan int) (handler, caller int) {
	t.Helper()
	callers := make(chan int, 1)
	go func() {
		callers <- goroutineID(t)
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, http.NoBody)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	caller = <-callers
	select {
	case handler = <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not served")
	}
	return handler, caller
}

// onWorker sends requests from fresh goroutines until one is served on a goroutine other
// than its caller's (a worker just done with a request needs a moment to take the next),
// and returns that goroutine.
func onWorker(t *testing.T, h http.Handler, ran <-chan int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, caller := serveFromNewGoroutine(t, h, ran); got != caller {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatal("every request ran on its own goroutine, none on a worker")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGrownStacksReuseOneGoroutine: requests arriving one after another on fresh
// goroutines are served on the one worker, whose stack has grown already; fails when the
// wrapper serves each request where it arrives or on a goroutine of its own.
func TestGrownStacksReuseOneGoroutine(t *testing.T) {
	t.Parallel()
	ran := make(chan int, 1)
	h := webhook.WithGrownStacks(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		ran <- goroutineID(t)
	}), 1)
	worker := onWorker(t, h, ran)
	for range 20 {
		if got := onWorker(t, h, ran); got != worker {
			t.Fatalf("a request ran on goroutine %d, want the worker %d", got, worker)
		}
	}
}

// TestGrownStacksReuseTheLastWorker: of several idle workers, requests one after another
// (each served in full before the next, as one client's are) all run on the worker that
// served the one before, whose stack is still warm; fails when requests go round the
// workers in turn, as a shared channel hands them out.
func TestGrownStacksReuseTheLastWorker(t *testing.T) {
	t.Parallel()
	h := webhook.WithGrownStacks(t.Context(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Goroutine", strconv.Itoa(goroutineID(t)))
	}), 4)
	serve := func() (handler, caller int) {
		callers, handlers := make(chan int, 1), make(chan int, 1)
		go func() {
			callers <- goroutineID(t)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, http.NoBody))
			id, _ := strconv.Atoi(w.Header().Get("Goroutine"))
			handlers <- id // after ServeHTTP returned
		}()
		return <-handlers, <-callers
	}
	worker, caller := serve()
	if worker == caller {
		t.Fatalf("with four idle workers the first request ran where it arrived (goroutine %d)", caller)
	}
	for i := range 20 {
		if got, _ := serve(); got != worker {
			t.Fatalf("request %d ran on goroutine %d, want the last worker %d", i+2, got, worker)
		}
	}
}

// TestGrownStacksNeverQueue: with every worker busy, a request is served at once where it
// arrived instead of waiting behind a slow one (a registry lookup may take seconds).
func TestGrownStacksNeverQueue(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slowOn := make(chan int, 1)
	ran := make(chan int, 1)
	h := webhook.WithGrownStacks(t.Context(), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Slow") != "" {
			slowOn <- goroutineID(t)
			<-release
			return
		}
		ran <- goroutineID(t)
	}), 1)
	// Occupy the one worker: send slow requests until one lands on it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		callers, done := make(chan int, 1), make(chan struct{})
		go func() {
			defer close(done)
			callers <- goroutineID(t)
			r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, http.NoBody)
			r.Header.Set("Slow", "1")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
		caller, on := <-callers, <-slowOn
		if on != caller {
			defer func() { close(release); <-done }()
			break
		}
		release <- struct{}{} // ran where it arrived: let it go and try again
		<-done
		if time.Now().After(deadline) {
			t.Fatal("no slow request reached the worker")
		}
	}
	if got, caller := serveFromNewGoroutine(t, h, ran); got != caller {
		t.Fatalf("with the worker busy, a request ran on goroutine %d, not where it arrived (%d)", got, caller)
	}
}

// TestGrownStacksPanicReachesTheCaller: a handler's panic comes out of ServeHTTP on the
// request's own goroutine, where net/http turns it into a reset stream as for any
// handler, instead of killing the process from a worker; and the worker lives on.
func TestGrownStacksPanicReachesTheCaller(t *testing.T) {
	t.Parallel()
	on := make(chan int, 1)
	h := webhook.WithGrownStacks(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		on <- goroutineID(t)
		panic(http.ErrAbortHandler)
	}), 1)
	serve := func() (ranOn int) {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler { //nolint:errorlint // the very value panicked with
				t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
			}
			ranOn = <-on
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, http.NoBody))
		t.Fatal("ServeHTTP returned instead of panicking")
		return 0
	}
	me := goroutineID(t)
	worker := 0
	deadline := time.Now().Add(10 * time.Second)
	for served := 0; served < 3; {
		switch got := serve(); {
		case got == me:
			time.Sleep(time.Millisecond) // ran where it arrived; the worker was not ready
		case worker == 0 || got == worker:
			worker = got
			served++
		default:
			t.Fatalf("a panic ran on goroutine %d after worker %d: the worker did not survive", got, worker)
		}
		if time.Now().After(deadline) {
			t.Fatal("no panicking request reached the worker")
		}
	}
}

// TestGrownStacksGoexitReachesTheCaller: a handler that calls runtime.Goexit ends the
// request's own goroutine too, as it would without workers, instead of ServeHTTP
// returning as if the handler had finished.
func TestGrownStacksGoexitReachesTheCaller(t *testing.T) {
	t.Parallel()
	on := make(chan int, 1)
	h := webhook.WithGrownStacks(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		on <- goroutineID(t)
		runtime.Goexit()
	}), 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		returned, caller, done := false, make(chan int, 1), make(chan struct{})
		go func() {
			defer close(done)
			caller <- goroutineID(t)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, http.NoBody))
			returned = true
		}()
		<-done
		if returned {
			t.Fatal("ServeHTTP returned after the handler called runtime.Goexit")
		}
		if got := <-on; got != <-caller {
			return // ran on the worker, and the caller's goroutine ended as well
		}
		if time.Now().After(deadline) {
			t.Fatal("no request reached the worker")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGrownStacksAfterStop: once the server's context ends the workers go away, and a
// request that still arrives (the shutdown delay admits on) is served where it arrives.
func TestGrownStacksAfterStop(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(t.Context())
	ran := make(chan int, 1)
	h := webhook.WithGrownStacks(ctx, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		ran <- goroutineID(t)
	}), 2)
	onWorker(t, h, ran)
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, caller := serveFromNewGoroutine(t, h, ran)
		if got == caller {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(errors.New("a worker still serves after its context ended"))
		}
		time.Sleep(time.Millisecond)
	}
}
