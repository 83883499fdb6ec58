package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/bench/report"
	"github.com/vault-injector/vault-injector/bench/server"
	"github.com/vault-injector/vault-injector/internal/podtest"
)

// distinctUIDs is how many request bodies (uids) rotate, so a response for the wrong
// request is caught.
const distinctUIDs = 64

// target is one server under load.
type target struct {
	proc   *server.Process
	env    []string // added to its environment, for the report
	url    string
	client *http.Client
}

// commandLine is how to start the server by hand, environment first.
func (t *target) commandLine() string {
	return strings.Join(append(slices.Clone(t.env), t.proc.Args...), " ")
}

// admissionSection starts vault-injector and the floor server and drives both, level
// by level, alternating so that drift in the machine's load hits both alike.
func admissionSection(ctx context.Context, o *options, res *report.Results, stdout io.Writer) error {
	roots, bins, err := prepare(ctx, o, res)
	if err != nil {
		return err
	}
	bodies, err := reviewBodies()
	if err != nil {
		return err
	}
	ours, err := startOurs(ctx, o, bins[0], roots)
	if err != nil {
		return err
	}
	defer stop(ours, res)
	res.Commands = append(res.Commands, ours.commandLine())
	a := &report.Admission{
		Pod: "typical (1 init container + 2 containers, 40 env variables, 19 references, commands set)", BodyBytes: len(bodies[0].Data),
		Duration: o.duration, Warmup: o.warmup, Rounds: max(o.rounds, 1),
	}
	patchFile := filepath.Join(o.workDir, "patch.json")
	if a.PatchBytes, a.PatchOps, err = capturePatch(ctx, ours, bodies[0], patchFile); err != nil {
		return err
	}
	floor, err := startFloor(ctx, o, bins[1], roots, patchFile)
	if err != nil {
		return err
	}
	defer stop(floor, res)
	res.Commands = append(res.Commands, floor.commandLine())
	for _, t := range []*target{ours, floor} {
		idle, err := t.proc.PeakRSS()
		if err != nil {
			return err
		}
		a.Servers = append(a.Servers, report.Server{Name: t.proc.Name, Command: t.commandLine(), IdleRSS: idle})
	}
	res.Admission = a
	if err := drive(ctx, o, a, bodies, ours, floor, stdout); err != nil {
		return err
	}
	res.Targets = append(res.Targets, report.EvaluateAdmission(a)...)
	return nil
}

// prepare writes the certificate and builds (or takes) the two server binaries.
func prepare(ctx context.Context, o *options, res *report.Results) (*x509.CertPool, [2]string, error) {
	var bins [2]string
	certDir := filepath.Join(o.workDir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil { //nolint:gosec // under our own work directory
		return nil, bins, fmt.Errorf("certificate directory: %w", err)
	}
	roots, err := server.WriteCert(certDir)
	if err != nil {
		return nil, bins, err
	}
	bins = [2]string{o.injectorBin, filepath.Join(o.workDir, "floor-server")}
	builds := [][2]string{{"./bench/cmd/floor-server", bins[1]}}
	if bins[0] == "" {
		bins[0] = filepath.Join(o.workDir, "vault-injector")
		builds = append(builds, [2]string{"./cmd/vault-injector", bins[0]})
	}
	for _, b := range builds {
		line, err := server.Build(ctx, o.root, b[0], b[1])
		res.Commands = append(res.Commands, line)
		if err != nil {
			return nil, bins, err
		}
	}
	return roots, bins, nil
}

// reviewBodies are the typical pod's AdmissionReviews, differing only in their uid.
func reviewBodies() ([]load.Body, error) {
	pod := podtest.Typical()
	bodies := make([]load.Body, distinctUIDs)
	for i := range bodies {
		uid := fmt.Sprintf("bench-%08d-0000-4000-8000-000000000000", i)
		data, err := podtest.Review(pod, uid)
		if err != nil {
			return nil, err
		}
		bodies[i] = load.Body{UID: uid, Data: data}
	}
	return bodies, nil
}

// drive runs every level against both servers and records the figures. Each level is
// warmed up on both, then measured in rounds in which the servers take turns (ours
// first in odd rounds, the floor first in even ones), and each server's rounds are merged:
// a slow spell of a shared machine then hits both servers instead of skewing the ratio.
func drive(ctx context.Context, o *options, a *report.Admission, bodies []load.Body, ours, floor *target, stdout io.Writer) error {
	for _, clients := range o.clients {
		level := report.Level{Clients: clients}
		runs := map[*target][]report.Run{}
		for _, t := range []*target{ours, floor} {
			if err := warmUp(ctx, o, t, bodies, clients); err != nil {
				return err
			}
		}
		for round := range max(o.rounds, 1) {
			order := []*target{ours, floor}
			if round%2 == 1 {
				order = []*target{floor, ours}
			}
			for _, t := range order {
				r, err := measure(ctx, t, bodies, clients, o.duration/time.Duration(max(o.rounds, 1)))
				if err != nil {
					return err
				}
				runs[t] = append(runs[t], r)
			}
		}
		for _, t := range []*target{ours, floor} {
			r := mergeRuns(runs[t])
			fmt.Fprintf(stdout, "%-15s %3d clients: %8.0f req/s  p50 %s  p99 %s  p99.9 %s  errors %d  peak RSS %.1f MiB (anon %.1f)\n",
				t.proc.Name, clients, r.Throughput, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Errors,
				float64(r.PeakRSS)/(1<<20), float64(r.PeakAnon)/(1<<20))
			if t == ours {
				level.Ours = r
			} else {
				level.Floor = r
			}
		}
		if level.Floor.Throughput > 0 {
			level.ThroughputRatio = level.Ours.Throughput / level.Floor.Throughput
		}
		if level.Floor.Latency.P99 > 0 {
			level.P99Ratio = float64(level.Ours.Latency.P99) / float64(level.Floor.Latency.P99)
		}
		level.RoundThroughputRatios = roundRatios(runs[ours], runs[floor])
		if o, f := level.Ours.CPUPerRequest(), level.Floor.CPUPerRequest(); o > 0 && f > 0 {
			level.CPUPerRequestRatio = float64(o) / float64(f)
		}
		a.Levels = append(a.Levels, level)
	}
	return nil
}

// roundRatios are ours/floor requests per second, round by round.
func roundRatios(ours, floor []report.Run) []float64 {
	var ratios []float64
	for i := range min(len(ours), len(floor)) {
		if floor[i].Throughput > 0 {
			ratios = append(ratios, ours[i].Throughput/floor[i].Throughput)
		}
	}
	return ratios
}

// warmUp drives t at the level without recording anything.
func warmUp(ctx context.Context, o *options, t *target, bodies []load.Body, clients int) error {
	if o.warmup <= 0 {
		return nil
	}
	_, err := load.Run(ctx, load.Options{URL: t.url, Client: t.client, Bodies: bodies, Clients: clients, Duration: o.warmup, Check: load.CheckMutated})
	return err
}

// mergeRuns is one server's rounds at one level as one run; memory is the highest seen.
func mergeRuns(runs []report.Run) report.Run {
	results := make([]load.Result, len(runs))
	var out report.Run
	for i, r := range runs {
		results[i] = r.Result
		out.PeakRSS, out.PeakAnon = max(out.PeakRSS, r.PeakRSS), max(out.PeakAnon, r.PeakAnon)
		out.CPU += r.CPU
	}
	out.Result = load.Merge(results...)
	return out
}

// measure runs t at the level for d and reads its peak memory.
func measure(ctx context.Context, t *target, bodies []load.Body, clients int, d time.Duration) (report.Run, error) {
	opts := load.Options{URL: t.url, Client: t.client, Bodies: bodies, Clients: clients, Duration: d, Check: load.CheckMutated}
	cpuBefore, err := t.proc.CPUTime()
	if err != nil {
		return report.Run{}, fmt.Errorf("%s: %w", t.proc.Name, err)
	}
	sampler := t.proc.SampleAnon(50 * time.Millisecond)
	r, err := load.Run(ctx, opts)
	anon := sampler.Stop()
	if err != nil {
		return report.Run{}, err
	}
	cpuAfter, err := t.proc.CPUTime()
	if err != nil {
		return report.Run{}, fmt.Errorf("%s: %w", t.proc.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Run{}, fmt.Errorf("interrupted: %w", err)
	}
	peak, err := t.proc.PeakRSS()
	if err != nil {
		return report.Run{}, fmt.Errorf("%s: %w", t.proc.Name, err)
	}
	return report.Run{Result: r, PeakRSS: peak, PeakAnon: anon, CPU: cpuAfter - cpuBefore}, nil
}
