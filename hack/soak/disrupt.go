package main

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"
)

// event is one disruption: a replica killed and restarted, or the certificate rewritten.
type event struct {
	kind    string // "kill" or "rotate"
	replica string
	at      time.Duration
	// until is when it was over: the replica ready again, or every replica serving the
	// new certificate.
	until time.Duration
	err   string
}

// planned is a disruption due at a time from the start of the load.
type planned struct {
	at   time.Duration
	kind string
}

// schedule puts kills at killEvery×(k+½) and rotations at rotateEvery×k + killEvery/4,
// so the two never coincide and a one-minute run sees one of each.
func schedule(o options) []planned {
	var plan []planned
	for t := o.killEvery / 2; o.killEvery > 0 && t < o.duration; t += o.killEvery {
		plan = append(plan, planned{at: t, kind: "kill"})
	}
	first := o.killEvery / 4
	if o.killEvery == 0 {
		first = o.rotateEvery / 4
	}
	for t := first; o.rotateEvery > 0 && t < o.duration; t += o.rotateEvery {
		plan = append(plan, planned{at: t, kind: "rotate"})
	}
	slices.SortFunc(plan, func(a, b planned) int { return int(a.at - b.at) })
	return plan
}

// disrupt carries out the plan in order; victim picks the replica of each kill.
func disrupt(ctx context.Context, start time.Time, plan []planned, sig syscall.Signal, victim func(kill int) *replica, replicas []*replica, p *pki) []event {
	var events []event
	kills := 0
	for _, step := range plan {
		select {
		case <-ctx.Done():
			return events
		case <-time.After(time.Until(start.Add(step.at))):
		}
		e := event{kind: step.kind, at: time.Since(start)}
		var err error
		if step.kind == "kill" {
			r := victim(kills)
			kills++
			e.replica = r.name
			if err = r.kill(sig); err == nil {
				err = r.start(ctx)
			}
		} else {
			err = rotate(ctx, p, replicas)
		}
		e.until = time.Since(start)
		if err != nil {
			e.err = err.Error()
		}
		events = append(events, e)
	}
	return events
}

// rotate writes a new serving certificate and waits until every replica serves it.
func rotate(ctx context.Context, p *pki, replicas []*replica) error {
	if err := p.issue(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, r := range replicas {
		if err := awaitServed(ctx, p, r); err != nil {
			return err
		}
	}
	return nil
}

// awaitServed polls r's TLS port until it serves the certificate written last (the
// webhook's watcher reacts to the file change, or polls every 10s).
func awaitServed(ctx context.Context, p *pki, r *replica) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		serial, err := p.servedSerial(ctx, r.servingAddr)
		if err == nil && serial.Cmp(p.serial) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%s does not serve the new certificate after a minute: %w", r.name, err)
			}
			return fmt.Errorf("%s still serves the old certificate after a minute", r.name)
		case <-tick.C:
		}
	}
}
