package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is one reading of one replica.
type sample struct {
	at      time.Duration
	replica string
	// rss is 0 when the replica was down.
	rss int64
	// mutated is the replica's vault_injector_admission_requests_total{outcome="mutated"}
	// since its last start (-1 when unreadable).
	mutated int64
}

// sampler reads every replica's memory and request counter every interval.
type sampler struct {
	replicas []*replica
	every    time.Duration
	mu       sync.Mutex
	samples  []sample
}

func (s *sampler) run(ctx context.Context, start time.Time) {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-ctx.Done():
			// A last reading at the end, with a context of its own.
			s.read(context.WithoutCancel(ctx), client, start)
			return
		default:
		}
		s.read(ctx, client, start)
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

func (s *sampler) read(ctx context.Context, client *http.Client, start time.Time) {
	for _, r := range s.replicas {
		rss, err := r.rss()
		if err != nil {
			rss = 0
		}
		s.add(sample{at: time.Since(start), replica: r.name, rss: rss, mutated: mutatedCount(ctx, client, r.metricsAddr)})
	}
}

func (s *sampler) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, x)
}

func (s *sampler) all() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.samples...)
}

const mutatedSeries = `vault_injector_admission_requests_total{outcome="mutated"}`

// mutatedCount scrapes the replica's count of mutated pods, or -1.
func mutatedCount(ctx context.Context, client *http.Client, addr string) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", http.NoBody)
	if err != nil {
		return -1
	}
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	return parseCounter(body, mutatedSeries)
}

// parseCounter finds series in Prometheus text format and returns its value, or -1.
func parseCounter(body []byte, series string) int64 {
	for sc := bufio.NewScanner(bytes.NewReader(body)); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return int64(f)
		}
	}
	return -1
}
