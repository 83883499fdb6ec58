package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/injector"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	o := options{duration: 10 * time.Minute, killEvery: time.Minute, rotateEvery: 2 * time.Minute}
	var kills, rotations []time.Duration
	for _, p := range schedule(o) {
		if p.kind == "kill" {
			kills = append(kills, p.at)
		} else {
			rotations = append(rotations, p.at)
		}
	}
	if len(kills) != 10 || kills[0] != 30*time.Second || kills[9] != 9*time.Minute+30*time.Second {
		t.Errorf("kills at %v", kills)
	}
	if len(rotations) != 5 || rotations[0] != 15*time.Second || rotations[1] != 2*time.Minute+15*time.Second {
		t.Errorf("rotations at %v", rotations)
	}
	o.duration = time.Minute
	if got := schedule(o); len(got) != 2 || got[0].kind != "rotate" || got[1].kind != "kill" {
		t.Errorf("a one-minute run plans %v, want a rotation then a kill", got)
	}
	o.killEvery, o.rotateEvery = 0, 0
	if got := schedule(o); len(got) != 0 {
		t.Errorf("nothing asked, %v planned", got)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := percentilesOf(ds); got != (percentiles{P50: 50, P90: 90, P99: 99, Max: 100}) {
		t.Errorf("percentilesOf = %+v", got)
	}
	if got := percentilesOf(nil); got != (percentiles{}) {
		t.Errorf("no data: %+v", got)
	}
}

func TestMutatedDeltas(t *testing.T) {
	t.Parallel()
	samples := []sample{{mutated: 5}, {mutated: 12}, {mutated: -1}, {mutated: 3}, {mutated: 10}}
	if got, want := mutatedDeltas(samples), []int64{5, 7, 0, 3, 7}; !slices.Equal(got, want) {
		t.Errorf("mutatedDeltas = %v, want %v (a restart counts from zero)", got, want)
	}
	body := []byte("# HELP x\n" + mutatedSeries + " 42\n" + `vault_injector_admission_requests_total{outcome="denied"} 1` + "\n")
	if got := parseCounter(body, mutatedSeries); got != 42 {
		t.Errorf("parseCounter = %d", got)
	}
	if got := parseCounter([]byte("other 1\n"), mutatedSeries); got != -1 {
		t.Errorf("missing series: %d", got)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	fail := func(at time.Duration, msg string) result { return result{at: at, err: msg} }
	results := []result{
		{at: time.Second, latency: 10 * time.Millisecond},
		fail(29500*time.Millisecond, "soak-0000012 EOF"), // just before the kill: its in-flight request
		fail(31*time.Second, "soak-0000013 EOF"),
		fail(16*time.Second, "rotation drop"),
		fail(50*time.Second, "unexplained"),
		{at: 70 * time.Second, latency: 30 * time.Millisecond},
	}
	events := []event{
		{kind: "rotate", at: 15 * time.Second, until: 15100 * time.Millisecond},
		{kind: "kill", replica: "a", at: 30 * time.Second, until: 30050 * time.Millisecond},
	}
	samples := []sample{{at: time.Second, replica: "a", rss: 30 << 20, mutated: 1}, {at: 61 * time.Second, replica: "a", mutated: -1}}
	f := summarize(options{duration: 2 * time.Minute, rate: 10, signalName: "SIGKILL"}, results, samples, events, storedPods{total: 2})
	if f.Sent != 6 || f.Failed != 4 || f.UnexplainedFailures != 1 {
		t.Errorf("sent %d failed %d unexplained %d", f.Sent, f.Failed, f.UnexplainedFailures)
	}
	if f.Disruptions[0].Failures != 1 || f.Disruptions[1].Failures != 2 {
		t.Errorf("disruptions %+v", f.Disruptions)
	}
	if f.Errors[0].Message != "soak-N EOF" || f.Errors[0].Count != 2 {
		t.Errorf("errors %+v, want messages grouped across pods", f.Errors)
	}
	if len(f.Minutes) != 2 || f.Minutes[0].Replicas["a"].MaxRSSMiB != 30 || f.Minutes[1].Replicas["a"].Down != 1 {
		t.Errorf("minutes %+v", f.Minutes)
	}
	if err := f.verdict(options{maxErrRate: 1}); err == nil || !strings.Contains(err.Error(), "rotation at 15s dropped 1") {
		t.Errorf("verdict = %v, want the dropped request named", err)
	}
	var b strings.Builder
	f.write(&b, []string{"a"})
	if !strings.Contains(b.String(), "| kill | a | 30.0 |") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestInjected(t *testing.T) {
	t.Parallel()
	pod := soakPod("ns", "p")
	if injected(pod) {
		t.Error("a pod as written counts as injected")
	}
	pod.Spec.InitContainers = []corev1.Container{{Name: injector.InitContainerName}}
	pod.Spec.Containers[0].Command = append([]string{injector.EnvexecInPod, "--"}, pod.Spec.Containers[0].Command...)
	if !injected(pod) {
		t.Error("an injected pod does not count")
	}
}

// backendServer is an HTTP server whose /readyz can be switched, and which names itself.
func backendServer(t *testing.T, name string) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv, &up
}

func TestBalancer(t *testing.T) {
	t.Parallel()
	a, aUp := backendServer(t, "a")
	b, _ := backendServer(t, "b")
	backends := []*backend{}
	for _, s := range []*httptest.Server{a, b} {
		backends = append(backends, &backend{addr: strings.TrimPrefix(s.URL, "http://"), probeURL: s.URL + "/readyz"})
	}
	lb, err := startBalancer(t.Context(), backends)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.close)
	get := func() string {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+lb.addr()+"/", http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	await(t, "both backends ready", func() bool { return backends[0].ready.Load() && backends[1].ready.Load() })
	seen := map[string]int{}
	for range 4 {
		seen[get()]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("round robin gave %v", seen)
	}
	aUp.Store(false)
	await(t, "a to be marked not ready", func() bool { return !backends[0].ready.Load() })
	for range 3 {
		if got := get(); got != "b" {
			t.Errorf("with a not ready, got %q", got)
		}
	}
	b.Close() // down without warning: its dial fails and the balancer has nowhere to go
	if got := get(); !strings.HasPrefix(got, "error") {
		t.Errorf("with no backend, got %q", got)
	}
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPKIRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A server that reads the files at every handshake, as a certificate watcher would
	// after a change.
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	tln := tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
		return &c, err
	}})
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).HandshakeContext(t.Context()) // the client checks what it got
			_ = c.Close()
		}
	}()
	addr := ln.Addr().String()
	first := p.serial
	if got, err := p.servedSerial(t.Context(), addr); err != nil || got.Cmp(first) != 0 {
		t.Fatalf("served %v, %v; want serial %v", got, err, first)
	}
	if err := p.issue(); err != nil {
		t.Fatal(err)
	}
	if got, err := p.servedSerial(t.Context(), addr); err != nil || got.Cmp(p.serial) != 0 || got.Cmp(first) == 0 {
		t.Errorf("after issue: served %v, %v; want the new serial %v", got, err, p.serial)
	}
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := parseOptions(nil, io.Discard)
	if err != nil || o.duration != 10*time.Minute || o.killSignal != syscall.SIGKILL || o.rate != 10 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if _, err := parseOptions([]string{"-kill-signal=HUP"}, io.Discard); err == nil {
		t.Error("-kill-signal=HUP accepted")
	}
	if _, err := parseOptions([]string{"-rate=0"}, io.Discard); err == nil {
		t.Error("-rate=0 accepted")
	}
}
