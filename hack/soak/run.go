package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vault-injector/vault-injector/bench/server"
	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/loopback"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it; the soak reports itself
	dir, err := os.MkdirTemp("", "vault-injector-soak-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintln(stderr, "logs kept in", dir)
			return
		}
		err = errors.Join(err, os.RemoveAll(dir))
	}()
	began := time.Now()
	env, err := setUp(ctx, dir, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "soak: set up in %s\n", time.Since(began).Round(time.Second))
	defer func() {
		began := time.Now()
		err = errors.Join(err, env.tearDown())
		fmt.Fprintf(stderr, "soak: torn down in %s\n", time.Since(began).Round(time.Second))
	}()
	return env.soak(ctx, o, stdout, stderr)
}

// soak runs the load with the disruptions and sampling beside it, then checks the stored
// pods and reports.
func (e *setup) soak(ctx context.Context, o options, stdout, stderr io.Writer) error {
	plan := schedule(o)
	fmt.Fprintf(stderr, "soak: %s at %d pods/s, %d disruptions planned\n", o.duration, o.rate, len(plan))
	start := time.Now()
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	s := &sampler{replicas: e.replicas, every: o.sampleEvery}
	var wg sync.WaitGroup
	wg.Go(func() { s.run(sampling, start) })
	disrupted := make(chan []event, 1)
	go func() { disrupted <- disrupt(ctx, start, plan, o.killSignal, e.victim, e.replicas, e.pki) }()
	l := &load{c: e.cluster.Client, namespace: namespace, rate: o.rate, maxInFlight: o.maxInFlight}
	results := l.run(ctx, start, o.duration)
	// The last disruption began before the end of the load: let it finish.
	events := <-disrupted
	stopSampling()
	wg.Wait()
	checked := time.Now()
	pods, err := checkPods(ctx, e.cluster.Client, namespace)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "soak: load over at %s, %d pods checked in %s\n", time.Since(start).Round(time.Second), pods.total, time.Since(checked).Round(time.Millisecond))
	f := summarize(o, results, s.all(), events, pods)
	f.Connections = e.connections()
	f.write(stdout, e.names())
	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, f); err != nil {
			return err
		}
	}
	return f.verdict(o)
}

// setup is the running system: control plane, two replicas, balancer, webhook
// configuration.
type setup struct {
	controlPlane *framework.ControlPlane
	cluster      *framework.Cluster
	pki          *pki
	replicas     []*replica
	backends     []*backend
	lb           *balancer
	stops        []func() error
}

// victim is the replica to kill: the one serving the apiserver's connections (it keeps
// them open, so the other replica may be idle), else each in turn.
func (e *setup) victim(kill int) *replica {
	best := kill % len(e.replicas)
	for i, b := range e.backends {
		if b.active.Load() > e.backends[best].active.Load() {
			best = i
		}
	}
	return e.replicas[best]
}

func (e *setup) names() []string {
	out := make([]string, len(e.replicas))
	for i, r := range e.replicas {
		out[i] = r.name
	}
	return out
}

func (e *setup) connections() map[string]int64 {
	out := map[string]int64{}
	for i, b := range e.backends {
		out[e.replicas[i].name] = b.conns.Load()
	}
	return out
}

func (e *setup) tearDown() error {
	var errs []error
	for i := len(e.stops) - 1; i >= 0; i-- {
		errs = append(errs, e.stops[i]())
	}
	return errors.Join(errs...)
}

// setUp builds the webhook and starts everything, logging into dir.
func setUp(ctx context.Context, dir string, progress io.Writer) (e *setup, err error) {
	e = &setup{}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.tearDown())
		}
	}()
	root, err := framework.RepoRoot()
	if err != nil {
		return e, err
	}
	fmt.Fprintln(progress, "soak: finding kube-apiserver and etcd, building the webhook")
	assets, err := framework.KubebuilderAssets(ctx, root)
	if err != nil {
		return e, err
	}
	bin := filepath.Join(dir, "vault-injector")
	if _, err := server.Build(ctx, root, "./cmd/vault-injector", bin); err != nil {
		return e, err
	}
	cpLog, err := os.Create(filepath.Join(dir, "control-plane.log"))
	if err != nil {
		return e, err
	}
	e.stops = append(e.stops, cpLog.Close)
	if e.controlPlane, err = framework.StartControlPlane(framework.ControlPlaneOptions{AssetsDir: assets, Log: cpLog}); err != nil {
		return e, err
	}
	e.stops = append(e.stops, e.controlPlane.Stop)
	if e.cluster, err = framework.NewCluster(e.controlPlane.Endpoint()); err != nil {
		return e, err
	}
	fmt.Fprintln(progress, "soak: starting two replicas behind the balancer")
	if err := e.startReplicas(ctx, dir, bin); err != nil {
		return e, err
	}
	return e, e.register(ctx)
}

func (e *setup) startReplicas(ctx context.Context, dir, bin string) error {
	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return err
	}
	var err error
	if e.pki, err = newPKI(certDir); err != nil {
		return err
	}
	addrs, err := loopback.FreeAddrs(ctx, 6)
	if err != nil {
		return err
	}
	for i, name := range []string{"replica-a", "replica-b"} {
		r := newReplica(name, bin, dir, certDir, addrs[3*i:3*i+3])
		if err := r.start(ctx); err != nil {
			return err
		}
		e.replicas = append(e.replicas, r)
		e.stops = append(e.stops, func() error { return r.kill(syscall.SIGTERM) })
		e.backends = append(e.backends, &backend{addr: r.servingAddr, probeURL: "http://" + r.probeAddr + "/readyz"})
	}
	if e.lb, err = startBalancer(ctx, e.backends); err != nil {
		return err
	}
	e.stops = append(e.stops, func() error { e.lb.close(); return nil })
	return nil
}
