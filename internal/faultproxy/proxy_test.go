package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection until EOF and counts the connections it accepted.
type echoServer struct {
	addr     string
	accepted atomic.Int64
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{addr: ln.Addr().String()}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return e
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip sends data, half-closes and reads everything back.
func roundTrip(t *testing.T, c net.Conn, data []byte) ([]byte, error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; err == nil {
		err = werr
	}
	return got, err
}

// exchange is roundTrip on a new connection, returning only how it failed; a reset may
// already fail the dial, as the proxy can reset before the client's connect returned.
func exchange(t *testing.T, addr string, data []byte) error {
	t.Helper()
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = roundTrip(t, c, data)
	return err
}

// isReset reports whether err says the peer reset the connection.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForwardsFaithfully(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := Start(t, echo.addr)
	data := payload(1 << 20)
	got, err := roundTrip(t, dial(t, p.Addr()), data)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %d bytes back (want %d), err %v", len(got), len(data), err)
	}
	eventually(t, "the link to close", func() bool { return p.Stats().Active == 0 })
	s := p.Stats()
	if s.Accepted != 1 || s.BytesUp != int64(len(data)) || s.BytesDown != int64(len(data)) || s.Resets != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	p := Start(t, startEcho(t).addr)
	p.SetLatency(150*time.Millisecond, 100*time.Millisecond)
	c := dial(t, p.Addr())
	start := time.Now()
	got, err := roundTrip(t, c, []byte("ping"))
	if err != nil || string(got) != "ping" {
		t.Fatalf("got %q, %v", got, err)
	}
	// A lower bound only: the delay must have been applied in both directions.
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("round trip took %s, want at least the 250ms of added latency", took)
	}
}

func TestBandwidth(t *testing.T) {
	t.Parallel()
	p := Start(t, startEcho(t).addr)
	p.SetBandwidth(256 << 10)
	data := payload(128 << 10)
	start := time.Now()
	got, err := roundTrip(t, dial(t, p.Addr()), data)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %d bytes, %v", len(got), err)
	}
	// 128 KiB at 256 KiB/s needs about 0.5s each way (pipelined): a loose lower bound.
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("128 KiB at 256 KiB/s took %s", took)
	}
}

func TestResetOnAccept(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := Start(t, echo.addr)
	p.SetReset(true)
	if err := exchange(t, p.Addr(), []byte("hello")); !isReset(err) {
		t.Fatalf("err = %v, want a connection reset", err)
	}
	if s := p.Stats(); s.Resets != 1 || echo.accepted.Load() != 0 {
		t.Errorf("stats %+v, target accepted %d", s, echo.accepted.Load())
	}
	p.SetReset(false)
	if got, err := roundTrip(t, dial(t, p.Addr()), []byte("again")); err != nil || string(got) != "again" {
		t.Errorf("after reset off: %q, %v", got, err)
	}
}

func TestResetOpenConnection(t *testing.T) {
	t.Parallel()
	p := Start(t, startEcho(t).addr)
	c := dial(t, p.Addr())
	buf := make([]byte, 2)
	if _, err := c.Write([]byte("a1")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	p.ResetConnections()
	if _, err := io.ReadFull(c, buf); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after ResetConnections: %v, want a connection reset", err)
	}
	// Reset also ends an open connection at its next chunk.
	c2 := dial(t, p.Addr())
	if _, err := c2.Write([]byte("b1")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c2, buf); err != nil {
		t.Fatal(err)
	}
	p.SetReset(true)
	if _, err := c2.Write([]byte("b2")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c2, buf); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after Reset with a chunk in flight: %v, want a connection reset", err)
	}
	eventually(t, "two resets counted", func() bool { return p.Stats().Resets == 2 })
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := Start(t, echo.addr)
	p.SetBlackhole(true)
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read from the blackhole: %v, want a timeout", err)
	}
	if s := p.Stats(); s.Blackholed != 1 || s.Active != 1 || echo.accepted.Load() != 0 {
		t.Errorf("stats %+v, target accepted %d", s, echo.accepted.Load())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the blackholed connection to be dropped", func() bool { return p.Stats().Active == 0 })
}

func TestCloseAfter(t *testing.T) {
	t.Parallel()
	p := Start(t, startEcho(t).addr)
	p.SetCloseAfter(1000)
	got, err := roundTrip(t, dial(t, p.Addr()), payload(64<<10))
	if err != nil && !isReset(err) {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 1000 || !bytes.Equal(got, payload(1000)) {
		t.Errorf("got %d bytes, want the first 1000", len(got))
	}
	if s := p.Stats(); s.Truncated != 1 || s.BytesDown != 1000 {
		t.Errorf("stats %+v", s)
	}
}

func TestRefuseAndListenAgain(t *testing.T) {
	t.Parallel()
	p := Start(t, startEcho(t).addr)
	open := dial(t, p.Addr())
	eventually(t, "the connection to be set up", func() bool { return p.Stats().Active == 1 })
	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}
	_, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", p.Addr())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: %v, want connection refused", err)
	}
	if _, err := open.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("open connection after Refuse: %v, want it ended", err)
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(t, dial(t, p.Addr()), []byte("back")); err != nil || string(got) != "back" {
		t.Errorf("after Listen: %q, %v", got, err)
	}
}

func TestTargetDownAndSwitched(t *testing.T) {
	t.Parallel()
	down, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}
	p := Start(t, downAddr)
	if err := exchange(t, p.Addr(), []byte("x")); !isReset(err) {
		t.Errorf("target down: %v, want a connection reset", err)
	}
	if s := p.Stats(); s.DialErrors != 1 {
		t.Errorf("dial errors = %d, want 1", s.DialErrors)
	}
	echo := startEcho(t)
	p.SetTarget(echo.addr)
	if got, err := roundTrip(t, dial(t, p.Addr()), []byte("y")); err != nil || string(got) != "y" {
		t.Errorf("after SetTarget: %q, %v", got, err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	t.Parallel()
	p, err := New(startEcho(t).addr)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	p.SetLatency(time.Hour, 0)
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a chunk was held by latency")
	}
	if s := p.Stats(); s.Active != 0 {
		t.Errorf("active = %d after Close", s.Active)
	}
	if err := p.Listen(); err == nil {
		t.Error("Listen after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	var lim limiter
	if n, at := lim.take(100, 0); n != 100 || !at.IsZero() {
		t.Errorf("unlimited: %d at %v", n, at)
	}
	start := time.Now()
	n, first := lim.take(10000, 1000)
	if n != 50 || first.Before(start) {
		t.Errorf("first piece %d at %v", n, first)
	}
	_, second := lim.take(10000, 1000)
	if got := second.Sub(first); got != 50*time.Millisecond {
		t.Errorf("second piece %s after the first, want 50ms", got)
	}
}
