package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// createTimeout bounds one pod creation; the webhook configuration's own timeout (10s)
// comes first.
const createTimeout = 30 * time.Second

// result is one pod creation as the client saw it.
type result struct {
	// at is when it was sent, from the start of the load.
	at      time.Duration
	latency time.Duration
	// err is empty on success.
	err string
}

// load creates pods at a fixed rate (open loop: a tick is never skipped because the
// webhook is slow; beyond maxInFlight it counts as an overload error).
type load struct {
	c           client.Client
	namespace   string
	rate        int
	maxInFlight int
}

func (l *load) run(ctx context.Context, start time.Time, duration time.Duration) []result {
	var (
		mu       sync.Mutex
		results  []result
		inFlight atomic.Int64
		wg       sync.WaitGroup
	)
	record := func(r result) { mu.Lock(); results = append(results, r); mu.Unlock() }
	tick := time.NewTicker(time.Second / time.Duration(l.rate))
	defer tick.Stop()
	end := time.NewTimer(time.Until(start.Add(duration)))
	defer end.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
		case <-end.C:
		case <-tick.C:
			at := time.Since(start)
			if inFlight.Load() >= int64(l.maxInFlight) {
				record(result{at: at, err: fmt.Sprintf("overload: %d creations in flight", l.maxInFlight)})
				continue
			}
			inFlight.Add(1)
			wg.Go(func() {
				defer inFlight.Add(-1)
				record(l.create(ctx, n, at))
			})
			continue
		}
		break
	}
	wg.Wait()
	return results
}

func (l *load) create(ctx context.Context, n int, at time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	began := time.Now()
	err := l.c.Create(ctx, soakPod(l.namespace, fmt.Sprintf("soak-%07d", n)))
	r := result{at: at, latency: time.Since(began)}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

// soakPod is what a developer writes: a command and one reference, so the webhook
// wraps it without a registry lookup.
func soakPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{
			Name: "app", Image: "example.com/app:1.0", Command: []string{"/app", "serve"},
			Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "vault:secret/data/soak/db#password"}},
		}}},
	}
}
