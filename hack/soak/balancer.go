package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a TCP load balancer on loopback standing in for the webhook's Service: it
// passes TLS through to the replicas, round robin over those whose /readyz answers (as
// endpoints follow readiness), and skips a replica whose dial fails.
type balancer struct {
	ln       net.Listener
	backends []*backend
	wg       sync.WaitGroup
	stop     context.CancelFunc
	ctx      context.Context

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// next is where the round robin starts for the next connection.
	next int
}

// backend is one replica as the balancer sees it.
type backend struct {
	addr, probeURL string
	ready          atomic.Bool
	// conns counts the connections routed to it; active those open now.
	conns, active atomic.Int64
}

func startBalancer(ctx context.Context, backends []*backend) (*balancer, error) {
	ctx, stop := context.WithCancel(ctx)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return nil, fmt.Errorf("balancer: %w", err)
	}
	b := &balancer{ln: ln, backends: backends, stop: stop, ctx: ctx, conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.probe)
	b.wg.Go(b.serve)
	return b, nil
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

// close stops accepting, ends every connection and waits for the balancer's goroutines.
func (b *balancer) close() {
	b.stop()
	_ = b.ln.Close() // ends serve
	b.mu.Lock()
	for c := range b.conns {
		_ = c.Close() // ends its pipe
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// track registers a client connection for close; false means the balancer is closing.
func (b *balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *balancer) untrack(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// probe keeps each backend's readiness current, every 100ms.
func (b *balancer) probe() {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, be := range b.backends {
			be.ready.Store(ready(b.ctx, client, be.probeURL))
		}
		select {
		case <-b.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func ready(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode == http.StatusOK
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.handle(c) })
	}
}

// handle connects c to the next ready backend; with none, c is closed.
func (b *balancer) handle(c net.Conn) {
	defer c.Close()
	if !b.track(c) {
		return
	}
	defer b.untrack(c)
	b.mu.Lock()
	start := b.next
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	for i := range len(b.backends) {
		be := b.backends[(start+i)%len(b.backends)]
		if !be.ready.Load() {
			continue
		}
		u, err := (&net.Dialer{Timeout: time.Second}).DialContext(b.ctx, "tcp", be.addr)
		if err != nil {
			be.ready.Store(false)
			continue
		}
		be.conns.Add(1)
		be.active.Add(1)
		pipe(c, u)
		be.active.Add(-1)
		return
	}
}

// pipe copies both ways until both directions ended, passing half closes on.
func pipe(c, u net.Conn) {
	defer u.Close()
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok && err == nil {
			_ = tc.CloseWrite() // EOF from src: tell dst
			return
		}
		// A reset, an error or the balancer closing: end both sides, so the other
		// direction stops too and the client reconnects, to a ready replica.
		_ = c.Close()
		_ = u.Close()
	}
	wg.Go(func() { half(u, c) })
	wg.Go(func() { half(c, u) })
	wg.Wait()
}
