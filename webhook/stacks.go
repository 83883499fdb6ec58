package webhook

import (
	"context"
	"net/http"
	"runtime"
	"sync"
)

// grownStacks serves requests on long-lived goroutines. The HTTP/2 server starts a new
// goroutine for every request, with the runtime's smallest stack; decoding a pod and
// injecting it needs several times that, so each request paid to grow its stack again
// (copying it each time) before it did any work. A worker keeps its grown stack from
// one request to the next. The most recently idle worker takes the next request: its
// stack is the one still in the CPU's caches (and not yet shrunk by the garbage
// collector), where handing requests round to every worker in turn touched a cold stack
// each time. A request that finds every worker busy runs where it is, as before: nothing
// waits in a queue.
type grownStacks struct {
	next http.Handler
	mu   sync.Mutex
	// idle are the workers waiting for a call, the most recently idle last; none once
	// stopped.
	idle    []*worker
	stopped bool
}

// worker is one long-lived goroutine's mailbox. It holds at most one call: a worker is
// handed a call only while idle.
type worker struct{ calls chan *call }

// call is one request handed to a worker; done closes when it is served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	done  chan struct{}
	panic any
	// goexit: the handler called runtime.Goexit, which the caller repeats.
	goexit bool
}

// withGrownStacks serves next on n workers that stop when ctx ends.
func withGrownStacks(ctx context.Context, next http.Handler, n int) http.Handler {
	s := &grownStacks{next: next, idle: make([]*worker, 0, n)}
	for range n {
		w := &worker{calls: make(chan *call, 1)}
		s.idle = append(s.idle, w)
		go s.work(ctx, w)
	}
	return s
}

func (s *grownStacks) work(ctx context.Context, w *worker) {
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.stopped, s.idle = true, nil
			s.mu.Unlock()
			// A call handed over before the stop is in the mailbox already (calls are
			// handed over under mu, and none after stopped is set): serve it.
			select {
			case c := <-w.calls:
				s.serve(w, c)
			default:
			}
			return
		case c := <-w.calls:
			s.serve(w, c)
		}
	}
}

// serve runs one call; a panic or runtime.Goexit goes back to the request's goroutine,
// where net/http handles it as for any handler. The worker is idle again before the
// caller goes on, so a client's next request finds it at the top.
func (s *grownStacks) serve(w *worker, c *call) {
	returned := false
	defer func() {
		c.panic = recover()
		c.goexit = !returned && c.panic == nil
		if !c.goexit { // after runtime.Goexit the worker is gone
			s.mu.Lock()
			if !s.stopped {
				s.idle = append(s.idle, w)
			}
			s.mu.Unlock()
		}
		close(c.done)
	}()
	s.next.ServeHTTP(c.w, c.r)
	returned = true
}

// ServeHTTP implements http.Handler.
func (s *grownStacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var c *call
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c = &call{w: w, r: r, done: make(chan struct{})}
		s.idle[n-1].calls <- c // never blocks: an idle worker's mailbox is empty
		s.idle = s.idle[:n-1]
	}
	s.mu.Unlock()
	if c == nil {
		s.next.ServeHTTP(w, r)
		return
	}
	<-c.done
	switch {
	case c.panic != nil:
		panic(c.panic)
	case c.goexit:
		runtime.Goexit() // as if the handler had run here: net/http ends the stream
	}
}
