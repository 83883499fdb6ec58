package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/bench/gobench"
	"github.com/vault-injector/vault-injector/bench/load"
)

// Markdown renders the results as bench/RESULTS.md.
func (r *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\nWritten by `make bench` on %s from `%s`; do not edit by hand.\n",
		r.Date.UTC().Format(time.RFC3339), r.Commit)
	b.WriteString("Figures taken on a shared or busy machine are noisy: compare the load averages below.\n\n")
	m := r.Machine
	b.WriteString("## Machine\n\n| CPUs | model | kernel | Go | load average at start → end |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %s | %s | %s | %s → %s |\n\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.LoadStart, m.LoadEnd)
	r.targetsSection(&b)
	if r.Admission != nil {
		r.Admission.section(&b)
	}
	r.goSection(&b)
	if p := r.PodStart; p != nil {
		p.section(&b)
	}
	if r.Profile != "" {
		b.WriteString("## Handler profile (BenchmarkHandle/typical)\n\n<details><summary>pprof top tables</summary>\n\n```text\n")
		b.WriteString(r.Profile)
		b.WriteString("```\n\n</details>\n\n")
	}
	b.WriteString("## Commands\n\n```sh\n")
	for _, c := range r.Commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n")
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func (r *Results) targetsSection(b *strings.Builder) {
	if len(r.Targets) == 0 {
		return
	}
	b.WriteString("## Targets\n\n| target | clients | measured | limit | met | gap |\n|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		clients, met := "all", "**missed**"
		switch {
		case t.Part != "":
			clients = "–"
		case t.Clients > 0:
			clients = fmt.Sprint(t.Clients)
		}
		if t.Met {
			met = "met"
		}
		fmt.Fprintf(b, "| %s | %s | %.2f | %.2f | %s | %s |\n", t.Name, clients, t.Value, t.Limit, met, t.Gap)
	}
	b.WriteString("\n")
}

func (a *Admission) section(b *strings.Builder) {
	b.WriteString("## Admission over HTTPS: vault-injector against the floor server\n\n")
	fmt.Fprintf(b, "Closed loop over one HTTP/2 TLS connection per server on loopback; every response checked "+
		"(status 200, uid, allowed, non-empty JSON patch). Pod: %s. Request body %d bytes; the webhook's patch "+
		"is %d bytes in %d operations, and the floor answers with the same patch. Each level: %s warm-up per server, then %s "+
		"measured per server in %d rounds, the servers taking turns (which goes first alternates), each server's rounds merged; the ratio of each round alone is listed too, as the spread between rounds is this machine's noise. Latency percentiles are exact (nearest rank over every request). "+
		"Peak RSS is the kernel's high-water mark (VmHWM, which counts the binary's pages read from disk); "+
		"in brackets the highest anonymous RSS (heap, stacks) sampled every 50ms during the level. "+
		"CPU per request is the server's user and system time over its measured rounds (all threads, 10 ms ticks) "+
		"divided by the requests it answered: it does not depend on how the two servers and the client shared the machine's cores, "+
		"so it varies less between runs than requests/s.\n\n",
		a.Pod, a.BodyBytes, a.PatchBytes, a.PatchOps, a.Warmup, a.Duration, a.Rounds)
	b.WriteString("| clients | server | requests/s | p50 | p90 | p99 | p99.9 | max | requests | errors | CPU per request | peak RSS (anon) | protocol |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var samples []string
	for _, l := range a.Levels {
		for _, run := range []struct {
			name string
			r    Run
		}{{"vault-injector", l.Ours}, {"floor", l.Floor}} {
			lat := run.r.Latency
			fmt.Fprintf(b, "| %d | %s | %.0f | %s | %s | %s | %s | %s | %d | %d | %s | %.1f MiB (%.1f) | %s |\n",
				l.Clients, run.name, run.r.Throughput, ms(lat.P50), ms(lat.P90), ms(lat.P99), ms(lat.P999), ms(lat.Max),
				run.r.Requests, run.r.Errors, micros(run.r.CPUPerRequest()), mib(run.r.PeakRSS), mib(run.r.PeakAnon), run.r.Protocol)
			for _, s := range run.r.ErrorSamples {
				samples = append(samples, fmt.Sprintf("%s at %d clients: %s", run.name, l.Clients, s))
			}
		}
	}
	fmt.Fprintf(b, "\n| clients | throughput ours/floor (≥ %.2f) | p99 ours/floor (≤ %.1f) | throughput ratio per round | CPU per request ours/floor |\n|---|---|---|---|---|\n",
		MinThroughputRatio, MaxP99Ratio)
	for _, l := range a.Levels {
		cpu := "–"
		if l.CPUPerRequestRatio > 0 {
			cpu = fmt.Sprintf("%.2f", l.CPUPerRequestRatio)
		}
		fmt.Fprintf(b, "| %d | %.2f | %.2f | %s | %s |\n", l.Clients, l.ThroughputRatio, l.P99Ratio, spread(l.RoundThroughputRatios), cpu)
	}
	b.WriteString("\nServers (idle RSS once ready):\n\n")
	for _, s := range a.Servers {
		fmt.Fprintf(b, "- %s, %.1f MiB idle: `%s`\n", s.Name, mib(s.IdleRSS), s.Command)
	}
	if len(samples) > 0 {
		b.WriteString("\nFirst errors:\n\n")
		for _, s := range samples {
			fmt.Fprintf(b, "- %s\n", s)
		}
	}
	b.WriteString("\n")
}

func (r *Results) goSection(b *strings.Builder) {
	if len(r.GoBenchmarks) == 0 && len(r.GoBenchmarkErrors) == 0 {
		return
	}
	b.WriteString("## In-process Go benchmarks\n\nMedian of the runs, with [min–max]. " +
		"Shapes: typical = 1 init container + 2 containers, 40 env variables, 19 references; " +
		"large = 10 containers, 500 variables, 100 references; no-references = typical without references (the fast path).\n\n")
	benchTable(b, r.GoBenchmarks, func(gobench.Benchmark) bool { return true })
	for _, e := range r.GoBenchmarkErrors {
		fmt.Fprintf(b, "\n**Failed:**\n\n```text\n%s\n```\n", strings.TrimSpace(e))
	}
	b.WriteString("\n### Registry lookup (pod without a command: the image's entrypoint)\n\n" +
		"Admission latency of the typical pod with its commands removed, against the in-process TLS registry " +
		"(internal/registrytest) on loopback: warm = answer cached; cold = a new resolver each time.\n\n")
	benchTable(b, r.GoBenchmarks, func(g gobench.Benchmark) bool { return strings.HasPrefix(g.Name, "BenchmarkHandleImageLookup") })
	b.WriteString("\n### envexec (issue 6 part 4)\n\n")
	if r.EnvexecBytes > 0 {
		fmt.Fprintf(b, "Stripped static binary: %d bytes (%.2f MiB). ", r.EnvexecBytes, float64(r.EnvexecBytes)/(1<<20))
	}
	b.WriteString("BenchmarkStartup runs envexec against the real Vault (JWT login each time, secrets of 100 keys); " +
		"BenchmarkVaultFloor does the same login and reads with a bare HTTP client and no envexec, " +
		"so the difference is envexec's own cost.\n\n")
	benchTable(b, r.GoBenchmarks, func(g gobench.Benchmark) bool { return strings.HasSuffix(g.Package, "/envexec") })
	if r.Benchstat != "" {
		b.WriteString("\n### benchstat\n\n```text\n" + r.Benchstat + "```\n")
	}
	if r.Comparison != "" {
		b.WriteString("\n### Against the baseline (old → new)\n\n```text\n" + r.Comparison + "```\n")
	}
	b.WriteString("\n")
}

// benchTable writes the benchmarks that keep selects, or says there are none.
func benchTable(b *strings.Builder, all []gobench.Benchmark, keep func(gobench.Benchmark) bool) {
	header := false
	for _, g := range all {
		if !keep(g) {
			continue
		}
		if !header {
			b.WriteString("| package | benchmark | runs | time/op | B/op | allocs/op | other |\n|---|---|---|---|---|---|---|\n")
			header = true
		}
		var other []string
		for _, u := range g.Units() {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				other = append(other, fmt.Sprintf("%s %s", num(g.Metrics[u].Median), u))
			}
		}
		ns := g.Metrics["ns/op"]
		fmt.Fprintf(b, "| %s | %s | %d | %s [%s–%s] | %s | %s | %s |\n", shortPkg(g.Package), g.Name, len(ns.Samples),
			dur(ns.Median), dur(ns.Min), dur(ns.Max), num(g.Metrics["B/op"].Median), num(g.Metrics["allocs/op"].Median),
			strings.Join(other, ", "))
	}
	if !header {
		b.WriteString("None ran.\n")
	}
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/vault-injector/vault-injector/")
}

// dur formats nanoseconds with a unit that keeps three significant digits.
func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	default:
		return fmt.Sprintf("%.0fns", ns)
	}
}

func ms(d time.Duration) string { return msf(float64(d)) }

func msf(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }

// micros writes a CPU time per request; "–" when unknown.
func micros(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// section is the pod start table: each kind against the plain pod.
func (p *PodStart) section(b *strings.Builder) {
	b.WriteString("## Pod start on a real node\n\nFrom the pod's creation to the application's first instruction, on the " +
		"e2e node (kubelet, containerd, runc; the chart installed by helm; images already pulled), the kinds taking turns.\n\n")
	fmt.Fprintf(b, "| pod | runs | p50 | p90 | max | p50 vs plain |\n|---|---|---|---|---|---|\n")
	for _, k := range []struct {
		name string
		l    load.Latency
	}{
		{"no references (the webhook is not called)", p.Plain},
		{fmt.Sprintf("%d references over %d paths, init-copy", p.References, p.Paths), p.Injected},
		{fmt.Sprintf("%d references over %d paths, image-volume", p.References, p.Paths), p.ImageVolume},
	} {
		r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		fmt.Fprintf(b, "| %s | %d | %v | %v | %v | %+.0f%% |\n", k.name, p.Runs, r(k.l.P50), r(k.l.P90), r(k.l.Max),
			(float64(k.l.P50)/float64(p.Plain.P50)-1)*100)
	}
	fmt.Fprintf(b, "\nOf an injected start, envexec itself (from its start to the exec of the application: login, "+
		"mount lookups, reads, as its log reports) takes %v at the median (p90 %v). envexec's peak RSS before exec: %.1f MiB.\n\n",
		p.Envexec.P50.Round(100*time.Microsecond), p.Envexec.P90.Round(100*time.Microsecond), float64(p.EnvexecPeakRSSKiB)/1024)
}

// spread writes per-round ratios as their range and the rounds themselves, or "–" when
// the run kept none (results.json from before they were recorded).
func spread(ratios []float64) string {
	if len(ratios) == 0 {
		return "–"
	}
	parts := make([]string, len(ratios))
	for i, r := range ratios {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.2f–%.2f (%s)", slices.Min(ratios), slices.Max(ratios), strings.Join(parts, ", "))
}
