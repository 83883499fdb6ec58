package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkSize is the most one read takes from a connection.
const chunkSize = 32 << 10

// link is one proxied connection: the client's and, unless blackholed, the target's.
type link struct {
	p    *Proxy
	c, u net.Conn
	done chan struct{}
	once sync.Once
	// sentDown counts bytes delivered to the client, for CloseAfter; only the down
	// pipe's writer touches it.
	sentDown int64
}

// chunk is what one read returned, stamped so latency counts from its arrival.
type chunk struct {
	data []byte
	at   time.Time
}

func newLink(p *Proxy, c, u net.Conn) *link {
	return &link{p: p, c: c, u: u, done: make(chan struct{})}
}

// close ends the link, with RSTs when reset is set; it reports whether this call was
// the one that closed it.
func (l *link) close(reset bool) bool {
	closed := false
	l.once.Do(func() {
		closed = true
		close(l.done)
		for _, c := range []net.Conn{l.c, l.u} {
			switch {
			case c == nil:
			case reset:
				resetConn(c)
			default:
				_ = c.Close() // the peer sees a FIN; nothing to report
			}
		}
		l.p.untrack(l)
	})
	return closed
}

// run forwards both directions until both ended, then closes the link.
func (l *link) run() {
	var wg sync.WaitGroup
	wg.Go(func() { l.pipe(l.c, l.u, true) })
	wg.Go(func() { l.pipe(l.u, l.c, false) })
	wg.Wait()
	l.close(false)
}

// swallow is the blackhole: read and drop everything until the client goes away.
func (l *link) swallow() {
	buf := make([]byte, chunkSize)
	for {
		if _, err := l.c.Read(buf); err != nil {
			break
		}
	}
	l.close(false)
}

// pipe copies src to dst through the faults. A reader goroutine stamps chunks as they
// arrive and the writer holds each one until its latency passed, so latency delays data
// without also throttling it.
func (l *link) pipe(src, dst net.Conn, up bool) {
	chunks := make(chan chunk, 16)
	readErr := make(chan error, 1)
	l.p.wg.Go(func() {
		defer close(chunks)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{data: buf[:n], at: time.Now()}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	})
	var lim limiter
	for ch := range chunks {
		if !l.deliver(dst, ch, up, &lim) {
			return
		}
	}
	select {
	case err := <-readErr:
		l.ended(dst, err)
	default: // the link was closed under the reader
	}
}

// ended passes on how src ended: a FIN as a half close, anything else as a reset.
func (l *link) ended(dst net.Conn, err error) {
	select {
	case <-l.done:
		return
	default:
	}
	if errors.Is(err, io.EOF) {
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // a failure shows as an error on dst's next use
		}
		return
	}
	if l.close(true) {
		l.p.stats.resets.Add(1)
	}
}

// deliver writes one chunk to dst under the faults in force now; false means the link
// is over.
func (l *link) deliver(dst net.Conn, ch chunk, up bool, lim *limiter) bool {
	f := l.p.Faults()
	if f.Reset {
		if l.close(true) {
			l.p.stats.resets.Add(1)
		}
		return false
	}
	if f.Blackhole {
		return true // dropped, the link stays open
	}
	latency := f.DownLatency
	if up {
		latency = f.UpLatency
	}
	if !l.waitUntil(ch.at.Add(latency)) {
		return false
	}
	data, truncate := ch.data, false
	if !up && f.CloseAfter > 0 {
		if left := max(f.CloseAfter-l.sentDown, 0); int64(len(data)) >= left {
			data, truncate = data[:left], true
		}
	}
	for len(data) > 0 {
		n, at := lim.take(len(data), f.Bandwidth)
		if !l.waitUntil(at) {
			return false
		}
		if _, err := dst.Write(data[:n]); err != nil {
			l.close(false)
			return false
		}
		l.count(up, n)
		data = data[n:]
	}
	if truncate {
		l.p.stats.truncated.Add(1)
		l.close(false)
		return false
	}
	return true
}

func (l *link) count(up bool, n int) {
	if up {
		l.p.stats.bytesUp.Add(int64(n))
		return
	}
	l.sentDown += int64(n)
	l.p.stats.bytesDown.Add(int64(n))
}

// waitUntil waits for t, or returns false as soon as the link is closed.
func (l *link) waitUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-l.done:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.done:
		return false
	}
}

// limiter paces one direction at a byte rate, in pieces of about 50 ms of data.
type limiter struct{ next time.Time }

// take returns how many of n bytes may go next at rate (bytes per second, 0 unlimited)
// and when they may go.
func (lim *limiter) take(n, rate int) (int, time.Time) {
	if rate <= 0 {
		return n, time.Time{}
	}
	piece := min(n, max(1, rate/20))
	at := lim.next
	if now := time.Now(); at.Before(now) {
		at = now
	}
	lim.next = at.Add(time.Duration(piece) * time.Second / time.Duration(rate))
	return piece, at
}
