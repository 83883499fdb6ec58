package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"syscall"
	"time"
)

// options are the soak's knobs; the defaults are the issue's: ten minutes, one replica
// killed every minute.
type options struct {
	duration    time.Duration
	rate        int
	killEvery   time.Duration
	killSignal  syscall.Signal
	signalName  string
	rotateEvery time.Duration
	sampleEvery time.Duration
	maxInFlight int
	maxErrRate  float64
	jsonOut     string
	keep        bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to send admission requests")
	fs.IntVar(&o.rate, "rate", 10, "pod creations per second (open loop: a slow webhook does not slow the load)")
	fs.DurationVar(&o.killEvery, "kill-every", time.Minute, "kill and restart one replica this often (first after half of it); 0 never")
	sig := fs.String("kill-signal", "KILL", "signal that kills a replica: KILL (a crash) or TERM (a rolling restart)")
	fs.DurationVar(&o.rotateEvery, "rotate-every", 2*time.Minute, "rewrite the serving certificate this often (first after a quarter of -kill-every); 0 never")
	fs.DurationVar(&o.sampleEvery, "sample-every", 5*time.Second, "how often to read each replica's memory and request counters")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 200, "creations in flight at most; beyond it a tick counts as an error (overload)")
	fs.Float64Var(&o.maxErrRate, "max-error-rate", 0.01, "fail if more than this fraction of creations failed")
	fs.StringVar(&o.jsonOut, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (logs of the control plane and replicas)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch *sig {
	case "KILL", "SIGKILL":
		o.killSignal, o.signalName = syscall.SIGKILL, "SIGKILL"
	case "TERM", "SIGTERM":
		o.killSignal, o.signalName = syscall.SIGTERM, "SIGTERM"
	default:
		return o, fmt.Errorf("-kill-signal %q: want KILL or TERM", *sig)
	}
	if o.duration <= 0 || o.rate <= 0 || o.sampleEvery <= 0 || o.maxInFlight <= 0 {
		return o, errors.New("-duration, -rate, -sample-every and -max-in-flight must be positive")
	}
	return o, nil
}
