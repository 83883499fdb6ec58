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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/bench/report"
	"github.com/vault-injector/vault-injector/e2e/framework"
)

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
	if *runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", *runs)
	}
	var res report.PodStart
	err := framework.WithNodeStack(ctx, "vi-podstart-", stderr, func(s *framework.NodeStack) error {
		c, err := framework.NewCluster(s.API)
		if err != nil {
			return err
		}
		tenant, err := framework.NewTenantOn(ctx, c, s.Vault, s.AuthMount, "podstart", "app")
		if err != nil {
			return err
		}
		m := measurer{c: c, t: tenant, app: s.Images.App}
		res, err = m.measure(ctx, *runs)
		return err
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "pod creation to the application's first instruction on a real kubelet, %d runs each, %d references over %d paths:\n", res.Runs, res.References, res.Paths)
	for _, k := range []struct {
		name string
		l    load.Latency
	}{{"plain (no references)", res.Plain}, {"init-copy", res.Injected}, {"image-volume", res.ImageVolume}} {
		fmt.Fprintf(stdout, "  %-22s p50 %v, p90 %v, max %v (%+.0f%% at the median)\n", k.name, k.l.P50, k.l.P90, k.l.Max,
			(float64(k.l.P50)/float64(res.Plain.P50)-1)*100)
	}
	fmt.Fprintf(stdout, "  envexec itself (its start to the exec, from its log): p50 %v, p90 %v\n", res.Envexec.P50, res.Envexec.P90)
	fmt.Fprintf(stdout, "  envexec's peak RSS before exec: %d KiB\n", res.EnvexecPeakRSSKiB)
	return nil
}

// The pods' references: 10 over 2 secrets of the tenant's.
const refs, paths = 10, 2

// kind is one way a pod starts.
type kind int

const (
	plain       kind = iota // the same pod with plain values: the apiserver never calls the webhook
	initCopy                // injected; an init container copies envexec
	imageVolume             // injected; envexec mounted from the injector image
)

func (k kind) String() string { return [...]string{"plain", "init-copy", "image-volume"}[k] }

// measurer starts pods in the tenant's namespace on the node.
type measurer struct {
	c   *framework.Cluster
	t   *framework.Tenant
	app string
}

// measure starts runs pods of each kind, taking turns, and summarizes their starts.
func (m measurer) measure(ctx context.Context, runs int) (report.PodStart, error) {
	for p := range paths {
		data := map[string]string{}
		for k := range refs / paths {
			data["k"+strconv.Itoa(k)] = "value-" + strconv.Itoa(p*100+k)
		}
		if err := m.t.PutSecret(ctx, "s"+strconv.Itoa(p), data); err != nil {
			return report.PodStart{}, err
		}
	}
	// One pod of each kind first, unmeasured: the node pulls the images once.
	for _, k := range []kind{plain, initCopy, imageVolume} {
		if _, _, err := m.startOnce(ctx, "warm-"+k.String(), k); err != nil {
			return report.PodStart{}, err
		}
	}
	starts := map[kind][]time.Duration{}
	var envexec []time.Duration
	peakKiB := 0
	for i := range runs {
		for _, k := range []kind{plain, initCopy, imageVolume} {
			d, e, err := m.startOnce(ctx, fmt.Sprintf("p%d-%s", i, k), k)
			if err != nil {
				return report.PodStart{}, err
			}
			starts[k] = append(starts[k], d)
			if k == plain {
				continue
			}
			if e.elapsed <= 0 || e.peakKiB <= 0 {
				return report.PodStart{}, fmt.Errorf("pod p%d-%s: envexec's log has no start-up time or peak memory", i, k)
			}
			envexec = append(envexec, e.elapsed)
			peakKiB = max(peakKiB, e.peakKiB)
		}
	}
	return report.PodStart{
		Runs: runs, References: refs, Paths: paths, Plain: summarize(starts[plain]), Injected: summarize(starts[initCopy]),
		ImageVolume: summarize(starts[imageVolume]), Envexec: summarize(envexec), EnvexecPeakRSSKiB: peakKiB,
	}, nil
}

// envexecRun is what envexec's own log says of one start.
type envexecRun struct {
	// elapsed is from envexec's start to the exec of the application.
	elapsed time.Duration
	// peakKiB is its memory high-water mark just before the exec.
	peakKiB int
}

// startOnce creates the pod and returns the time from just before its creation to the
// application's own clock reading (the kubelet and the app share this machine's clock),
// then deletes it.
func (m measurer) startOnce(ctx context.Context, name string, k kind) (time.Duration, envexecRun, error) {
	pod := m.pod(name, k)
	begin := time.Now()
	if err := m.c.CreatePod(ctx, pod); err != nil {
		return 0, envexecRun{}, err
	}
	defer func() {
		_ = m.c.Client.Delete(context.WithoutCancel(ctx), pod, client.GracePeriodSeconds(0)) // the namespace goes at the end
	}()
	log, err := m.waitDone(ctx, pod)
	if err != nil {
		return 0, envexecRun{}, err
	}
	var at int64
	for line := range strings.Lines(log) {
		if n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64); err == nil {
			at = n
		}
	}
	if at == 0 {
		return 0, envexecRun{}, fmt.Errorf("pod %s printed no time: %s", name, log)
	}
	return time.Unix(0, at).Sub(begin), readEnvexecLog(log), nil
}

// waitDone waits until the pod succeeded and returns its log (both streams).
func (m measurer) waitDone(ctx context.Context, pod *corev1.Pod) (string, error) {
	if err := m.c.WaitPodSucceeded(ctx, pod.Namespace, pod.Name, 2*time.Minute); err != nil {
		return "", err
	}
	data, err := m.c.Clientset.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "app"}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("pod %s logs: %w", pod.Name, err)
	}
	return string(data), nil
}

// pod runs `testapp now` with 10 variables: references, or for plain, values.
func (m measurer) pod(name string, k kind) *corev1.Pod {
	env := make([]corev1.EnvVar, 0, refs)
	for i := range refs {
		v := m.t.Ref("s"+strconv.Itoa(i%paths), "k"+strconv.Itoa(i/paths))
		if k == plain {
			v = "value-" + strconv.Itoa(i)
		}
		env = append(env, corev1.EnvVar{Name: "S" + strconv.Itoa(i), Value: v})
	}
	annotations := map[string]string{"vault-injector.io/log-level": "debug"} // envexec reports its peak memory
	if k == imageVolume {
		annotations["vault-injector.io/envexec-delivery"] = "image-volume"
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.t.Namespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: m.t.ServiceAccount, RestartPolicy: corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Tolerations: []corev1.Toleration{{
				Key: framework.NodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}},
			Containers: []corev1.Container{{
				Name: "app", Image: m.app, Command: []string{"/testapp", "now"}, Env: env,
			}},
		},
	}
}

// readEnvexecLog finds envexec's "starting application" line (its elapsed time) and its
// "peak memory before exec" debug line.
func readEnvexecLog(log string) envexecRun {
	var e envexecRun
	for line := range strings.Lines(log) {
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

func summarize(ds []time.Duration) load.Latency {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return load.Latency{Mean: sum / time.Duration(len(ds)), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: ds[len(ds)-1]}
}
