package webhook

import (
	"context"
	"net/http"
)

// grownStacks serves requests on long-lived goroutines. The HTTP/2 server starts a new
// goroutine for every request, with the runtime's smallest stack; decoding a pod and
// injecting it needs several times that, so each request paid to grow its stack again
// (copying it each time) before it did any work. A worker keeps its grown stack from
// one request to the next. A request that finds every worker busy runs where it is, as
// before: nothing waits in a queue.
type grownStacks struct {
	next  http.Handler
	calls chan *call
}

// call is one request handed to a worker; done closes when it is served.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	done  chan struct{}
	panic any
}

// withGrownStacks serves next on n workers that stop when ctx ends.
func withGrownStacks(ctx context.Context, next http.Handler, n int) http.Handler {
	s := &grownStacks{next: next, calls: make(chan *call)}
	for range n {
		go s.work(ctx)
	}
	return s
}

func (s *grownStacks) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-s.calls:
			s.serve(c)
		}
	}
}

// serve runs one call; a panic goes back to the request's goroutine, where net/http
// handles it as for any handler.
func (s *grownStacks) serve(c *call) {
	defer close(c.done)
	defer func() { c.panic = recover() }()
	s.next.ServeHTTP(c.w, c.r)
}

// ServeHTTP implements http.Handler.
func (s *grownStacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, done: make(chan struct{})}
	select {
	case s.calls <- c:
		<-c.done
		if c.panic != nil {
			panic(c.panic)
		}
	default:
		s.next.ServeHTTP(w, r)
	}
}
