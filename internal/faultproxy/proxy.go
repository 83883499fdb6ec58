// Package faultproxy is a TCP proxy for tests that puts switchable network faults between
// a client and a real server: added latency, a bandwidth limit, connection resets, a
// blackhole, truncation after N bytes, and refusal. It listens on loopback only, and
// every fault can be switched while clients are connected, because each chunk of data
// reads the faults in force as it passes.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds one dial of the target; a target that does not answer in time is
// treated like one that refused (the client's connection is reset).
const dialTimeout = 5 * time.Second

// Proxy forwards each connection it accepts to its target, applying its faults. It is
// safe for concurrent use.
type Proxy struct {
	// addr is fixed at creation, so Refuse and Listen keep clients' address valid.
	addr string

	mu     sync.Mutex
	target string
	faults Faults
	ln     net.Listener // nil while refusing
	links  map[*link]struct{}
	closed bool

	wg    sync.WaitGroup
	stats counters
	// life ends when the proxy closes, cancelling dials in progress.
	life context.Context
	stop context.CancelFunc
}

// New listens on a free loopback port and forwards to target (host:port).
func New(target string) (*Proxy, error) {
	life, stop := context.WithCancel(context.Background())
	ln, err := (&net.ListenConfig{}).Listen(life, "tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		addr: ln.Addr().String(), target: target, ln: ln,
		links: map[*link]struct{}{}, life: life, stop: stop,
	}
	p.serve(ln)
	return p, nil
}

// Addr is the proxy's host:port; it stays the same across Refuse and Listen.
func (p *Proxy) Addr() string { return p.addr }

// URL is the proxy's address with a scheme, such as "http://127.0.0.1:41234".
func (p *Proxy) URL(scheme string) string { return scheme + "://" + p.addr }

// Target is where connections are forwarded.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget forwards new connections to target; connections already open keep theirs,
// so a server "restarted" on another port can stand in for the old one.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// Refuse stops listening, so new connections are refused by the kernel, and resets the
// connections that are open, as a server that went down would.
func (p *Proxy) Refuse() error {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	p.ResetConnections()
	if err != nil {
		return fmt.Errorf("faultproxy: stop listening: %w", err)
	}
	return nil
}

// Listen listens again on the same address after Refuse. It fails if another process
// took the port meanwhile.
func (p *Proxy) Listen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if p.ln != nil {
		return nil
	}
	ln, err := (&net.ListenConfig{}).Listen(p.life, "tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.serve(ln)
	return nil
}

var errClosed = errors.New("faultproxy: closed")

// Close stops listening, closes every connection and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ln := p.ln
	p.ln = nil
	links := p.snapshotLinks()
	p.mu.Unlock()
	p.stop()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for _, l := range links {
		l.close(false)
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("faultproxy: close: %w", err)
	}
	return nil
}

// ResetConnections ends every open connection with a TCP RST now.
func (p *Proxy) ResetConnections() {
	p.mu.Lock()
	links := p.snapshotLinks()
	p.mu.Unlock()
	for _, l := range links {
		if l.close(true) {
			p.stats.resets.Add(1)
		}
	}
}

func (p *Proxy) snapshotLinks() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	return out
}

// serve accepts on ln until it is closed.
func (p *Proxy) serve(ln net.Listener) {
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Refuse or Close
			}
			p.stats.accepted.Add(1)
			p.wg.Go(func() { p.handle(ln, c) })
		}
	})
}

// handle applies the faults a new connection meets, then links it to the target; ln is
// the listener that accepted it.
func (p *Proxy) handle(ln net.Listener, c net.Conn) {
	f, target := p.Faults(), p.Target()
	switch {
	case f.Reset:
		p.stats.resets.Add(1)
		resetConn(c)
		return
	case f.Blackhole:
		p.stats.blackholed.Add(1)
		l := p.track(ln, c, nil)
		if l != nil {
			l.swallow()
		}
		return
	}
	ctx, cancel := context.WithTimeout(p.life, dialTimeout)
	defer cancel()
	u, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
	if err != nil {
		p.stats.dialErrors.Add(1)
		resetConn(c)
		return
	}
	if l := p.track(ln, c, u); l != nil {
		l.run()
	}
}

// track registers a link, or resets it if the proxy closed or stopped listening on ln
// while the connection was being set up.
func (p *Proxy) track(ln net.Listener, c, u net.Conn) *link {
	l := newLink(p, c, u)
	p.mu.Lock()
	if p.closed || p.ln != ln {
		p.mu.Unlock()
		if l.close(true) {
			p.stats.resets.Add(1)
		}
		return nil
	}
	p.links[l] = struct{}{}
	p.stats.active.Add(1)
	p.mu.Unlock()
	return l
}

func (p *Proxy) untrack(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.links[l]; ok {
		delete(p.links, l)
		p.stats.active.Add(-1)
	}
}

// resetConn closes c with an RST instead of a FIN: SO_LINGER 0 drops unsent data.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: the close below happens either way
	}
	_ = c.Close() // nothing to report: the peer sees the reset
}
