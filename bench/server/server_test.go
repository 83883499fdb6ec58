package server_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/bench/server"
	"github.com/vault-injector/vault-injector/internal/loopback"
)

// TestCertAndClient serves HTTP/2 with the written certificate and checks the client
// trusts it and speaks HTTP/2.
func TestCertAndClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	roots, err := server.WriteCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.HTTP2Client(roots).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
}

// TestProcess runs the test binary itself as a server that never gets ready: Start,
// memory figures, WaitReady's failure and Stop all work on a real process.
func TestProcess(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "log")
	p, err := server.Start("sleeper", exe, []string{"-test.run=^TestHelperSleep$"}, []string{"BENCH_SERVER_HELPER=1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if rss, err := p.PeakRSS(); err != nil || rss <= 0 {
		t.Errorf("peak RSS %d, %v", rss, err)
	}
	if anon := p.SampleAnon(10 * time.Millisecond).Stop(); anon <= 0 {
		t.Errorf("anon RSS %d", anon)
	}
	// The helper spins for 300 ms of CPU first.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cpu, err := p.CPUTime()
		if err != nil {
			t.Fatal(err)
		}
		if cpu >= 200*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time %v after 10s of a process that spins for 300ms, want at least 200ms", cpu)
		}
	}
	addrs, err := loopback.FreeAddrs(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(t.Context(), "http://"+addrs[0]+"/readyz", 300*time.Millisecond); err == nil {
		t.Error("nothing listens: want not ready")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestHelperSleep is the process TestProcess starts; on its own it does nothing.
func TestHelperSleep(t *testing.T) {
	if os.Getenv("BENCH_SERVER_HELPER") != "1" {
		t.Skip("helper process for TestProcess")
	}
	for used := time.Duration(0); used < 300*time.Millisecond; { // spin: TestProcess reads the CPU time
		var u syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
			t.Fatal(err)
		}
		used = time.Duration(u.Utime.Nano() + u.Stime.Nano())
	}
	time.Sleep(time.Hour)
}
