package load_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vault-injector/vault-injector/bench/load"
)

// answer is an admission response for uid; every fourth one is denied when flaky.
func answer(uid string, allowed bool) []byte {
	body, _ := json.Marshal(map[string]any{"response": map[string]any{
		"uid": uid, "allowed": allowed, "patchType": "JSONPatch", "patch": []byte(`[{"op":"add","path":"/x","value":1}]`),
	}})
	return body
}

func server(t *testing.T, flaky bool) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(answer(review.Request.UID, !flaky || n.Add(1)%4 != 0))
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func bodies(n int) []load.Body {
	out := make([]load.Body, n)
	for i := range out {
		uid := fmt.Sprintf("uid-%d", i)
		out[i] = load.Body{UID: uid, Data: []byte(`{"request":{"uid":"` + uid + `"}}`)}
	}
	return out
}

func TestRun(t *testing.T) {
	t.Parallel()
	for name, flaky := range map[string]bool{"all good": false, "some denied": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := server(t, flaky)
			r, err := load.Run(t.Context(), load.Options{
				URL: s.URL, Client: s.Client(), Bodies: bodies(3), Clients: 4, Duration: 200 * time.Millisecond, Check: load.CheckMutated,
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Throughput <= 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
				t.Errorf("implausible result %+v", r)
			}
			if r.Protocol != "HTTP/2.0" {
				t.Errorf("protocol %q, want HTTP/2.0", r.Protocol)
			}
			if got := r.Errors > 0; got != flaky {
				t.Errorf("errors = %d, want some: %v", r.Errors, flaky)
			}
			if flaky && (len(r.ErrorSamples) == 0 || !strings.Contains(r.ErrorSamples[0], "not allowed")) {
				t.Errorf("error samples %q", r.ErrorSamples)
			}
		})
	}
}

// TestMerge checks that runs merged are one run: counts add up, throughput is over the
// summed time, and percentiles are over every request of every run.
func TestMerge(t *testing.T) {
	t.Parallel()
	s := server(t, false)
	var runs []load.Result
	for range 3 {
		r, err := load.Run(t.Context(), load.Options{
			URL: s.URL, Client: s.Client(), Bodies: bodies(3), Clients: 2, Duration: 50 * time.Millisecond, Check: load.CheckMutated,
		})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	m := load.Merge(runs...)
	var requests int
	var elapsed time.Duration
	slowest := time.Duration(0)
	for _, r := range runs {
		requests += r.Requests
		elapsed += r.Elapsed
		slowest = max(slowest, r.Latency.Max)
	}
	if m.Requests != requests || m.Elapsed != elapsed || m.Latency.Max != slowest || m.Clients != 2 || m.Protocol != "HTTP/2.0" {
		t.Errorf("merged %+v from %d requests in %v, slowest %v", m, requests, elapsed, slowest)
	}
	if want := float64(requests) / elapsed.Seconds(); m.Throughput != want {
		t.Errorf("throughput %v, want %v", m.Throughput, want)
	}
	if again := load.Merge(m); again.Latency != m.Latency || again.Requests != m.Requests {
		t.Errorf("merging a merged result changed it: %+v vs %+v", again, m)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := load.Run(t.Context(), load.Options{Clients: 1}); err == nil {
		t.Error("no bodies, client or check: want an error")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status int
		body   string
		want   string
	}{
		"good":        {200, string(answer("u", true)), ""},
		"status":      {500, "boom", "status 500"},
		"not json":    {200, "{", "decode"},
		"no response": {200, `{}`, "no response"},
		"uid":         {200, string(answer("other", true)), "uid"},
		"denied":      {200, `{"response":{"uid":"u","allowed":false,"status":{"message":"nope"}}}`, "not allowed: nope"},
		"no patch":    {200, `{"response":{"uid":"u","allowed":true}}`, "without a JSON patch"},
		"empty":       {200, `{"response":{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":"W10="}}`, "without a JSON patch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := load.CheckMutated(tc.status, []byte(tc.body), "u")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	samples := make([]time.Duration, 1000)
	for i := range samples {
		samples[len(samples)-1-i] = time.Duration(i+1) * time.Millisecond
	}
	got := load.Summarize(samples)
	want := load.Latency{
		Mean: 500500 * time.Microsecond, P50: 500 * time.Millisecond, P90: 900 * time.Millisecond,
		P99: 990 * time.Millisecond, P999: 999 * time.Millisecond, Max: time.Second,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	if p := load.Percentile([]time.Duration{7}, 99.9); p != 7 {
		t.Errorf("one sample: %v", p)
	}
	if (load.Summarize(nil) != load.Latency{}) {
		t.Error("no samples: want zero")
	}
}
