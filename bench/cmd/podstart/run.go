package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/bench/report"
	"github.com/vault-injector/vault-injector/e2e/framework"
)

const namespace = "podstart"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("podstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 20, "pods started of each kind")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var res report.PodStart
	err := framework.WithStack(ctx, "vault-injector-podstart-", stderr, func(stack *framework.Stack) error {
		tenant, err := framework.NewTenant(ctx, stack.Cluster, stack.Vault.Client(), namespace, "app")
		if err != nil {
			return err
		}
		res, err = measure(ctx, stack, tenant, *runs)
		return err
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "pod start to the application's first instruction, %d runs each, %d references over %d paths:\n", res.Runs, res.References, res.Paths)
	fmt.Fprintf(stdout, "  injected: p50 %v, p90 %v, max %v\n", res.Injected.P50, res.Injected.P90, res.Injected.Max)
	fmt.Fprintf(stdout, "  plain:    p50 %v, p90 %v, max %v\n", res.Plain.P50, res.Plain.P90, res.Plain.Max)
	fmt.Fprintf(stdout, "  injection adds %v at the median\n", res.Injected.P50-res.Plain.P50)
	fmt.Fprintf(stdout, "  envexec itself (its start to the exec, from its log): p50 %v, p90 %v\n", res.Envexec.P50, res.Envexec.P90)
	fmt.Fprintf(stdout, "  envexec's peak RSS before exec: %d KiB\n", res.EnvexecPeakRSSKiB)
	return nil
}

// measure starts runs pods with injection and runs without, alternating, each with 10
// references over 2 secrets of the tenant's.
func measure(ctx context.Context, stack *framework.Stack, tenant *framework.Tenant, runs int) (report.PodStart, error) {
	const refs, paths = 10, 2
	for p := range paths {
		data := map[string]string{}
		for k := range refs / paths {
			data["k"+strconv.Itoa(k)] = "value-" + strconv.Itoa(p*100+k)
		}
		if err := tenant.PutSecret(ctx, "s"+strconv.Itoa(p), data); err != nil {
			return report.PodStart{}, err
		}
	}
	var injected, plain, envexec []time.Duration
	peakKiB := 0
	for i := range runs {
		for _, inject := range []bool{true, false} {
			d, e, err := startOnce(ctx, stack, tenant, fmt.Sprintf("p%d-%t", i, inject), inject, refs, paths)
			if err != nil {
				return report.PodStart{}, err
			}
			if !inject {
				plain = append(plain, d)
				continue
			}
			if e.elapsed <= 0 || e.peakKiB <= 0 {
				return report.PodStart{}, fmt.Errorf("pod p%d: envexec's log has no start-up time or peak memory", i)
			}
			injected, envexec = append(injected, d), append(envexec, e.elapsed)
			peakKiB = max(peakKiB, e.peakKiB)
		}
	}
	res := report.PodStart{
		Runs: runs, References: refs, Paths: paths, Injected: summarize(injected), Plain: summarize(plain),
		Envexec: summarize(envexec), EnvexecPeakRSSKiB: peakKiB,
	}
	return res, nil
}

// envexecRun is what envexec's own log says of one start.
type envexecRun struct {
	// elapsed is from envexec's start to the exec of the application.
	elapsed time.Duration
	// peakKiB is its memory high-water mark just before the exec.
	peakKiB int
}

// startOnce creates the pod through the apiserver (and so the webhook), then times the pod
// runner from the start of the first container to the application's own clock reading.
func startOnce(ctx context.Context, s *framework.Stack, t *framework.Tenant, name string, inject bool, refs, paths int) (d time.Duration, e envexecRun, err error) {
	pod := appPod(t, name, refs, paths)
	pod.Annotations = map[string]string{"vault-injector.io/log-level": "debug"} // envexec reports its peak memory
	if !inject {
		pod.Annotations = map[string]string{"vault-injector.io/inject": "false"}
	}
	if err := s.Cluster.Client.Create(ctx, pod); err != nil {
		return 0, envexecRun{}, fmt.Errorf("create pod %s: %w", name, err)
	}
	stored := &corev1.Pod{}
	if err := s.Cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), stored); err != nil {
		return 0, envexecRun{}, err
	}
	p, err := s.Runner.Prepare(ctx, stored)
	if err != nil {
		return 0, envexecRun{}, err
	}
	defer func() { err = errors.Join(err, p.Stop()) }()
	start := time.Now()
	if err := p.Run(ctx); err != nil {
		return 0, envexecRun{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	code, err := p.Wait(wctx, "app")
	out, errOut := p.Logs("app")
	if err != nil {
		return 0, envexecRun{}, fmt.Errorf("pod %s: %w", name, err)
	}
	if code != 0 {
		return 0, envexecRun{}, fmt.Errorf("pod %s: the application exited %d: %s", name, code, errOut)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, envexecRun{}, fmt.Errorf("pod %s printed %q, not a time", name, out)
	}
	return time.Unix(0, ns).Sub(start), readEnvexecLog(errOut), nil
}

// readEnvexecLog finds envexec's "starting application" line (its elapsed time) and its
// "peak memory before exec" debug line.
func readEnvexecLog(log []byte) envexecRun {
	var e envexecRun
	for _, line := range strings.Split(string(log), "\n") {
		var entry struct {
			Msg     string `json:"msg"`
			Peak    int    `json:"peakRSSKiB"`
			Elapsed string `json:"elapsed"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		switch entry.Msg {
		case "peak memory before exec":
			e.peakKiB = entry.Peak
		case "starting application":
			e.elapsed, _ = time.ParseDuration(entry.Elapsed)
		}
	}
	return e
}

// appPod reads its start time first thing; $$ is the kubelet's escape for a literal $.
func appPod(t *framework.Tenant, name string, refs, paths int) *corev1.Pod {
	env := make([]corev1.EnvVar, 0, refs)
	for i := range refs {
		env = append(env, corev1.EnvVar{Name: "S" + strconv.Itoa(i), Value: t.Ref("s"+strconv.Itoa(i%paths), "k"+strconv.Itoa(i/paths))})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: t.ServiceAccount, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "app", Image: "busybox", Command: []string{"/bin/date", "+%s%N"}, Env: env,
			}},
		},
	}
}

func summarize(ds []time.Duration) load.Latency {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return load.Latency{Mean: sum / time.Duration(len(ds)), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: ds[len(ds)-1]}
}
