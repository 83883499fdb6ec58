package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestFetchSlotsShareEvenly: with every slot held, a tenant holding at least two fewer
// than the one holding the most takes that one's newest slot (its fetch is stopped with
// errPreempted); tenants holding an even share keep theirs, and the stopped fetch's own
// release frees nothing twice.
func TestFetchSlotsShareEvenly(t *testing.T) {
	t.Parallel()
	s := newFetchSlots(4, 3)
	take := func(tenant string) (context.Context, func()) {
		t.Helper()
		ctx, release, err := s.take(t.Context(), tenant)
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		return ctx, release
	}
	refused := func(tenant, why string) {
		t.Helper()
		if _, _, err := s.take(t.Context(), tenant); err == nil || !strings.Contains(err.Error(), why) {
			t.Fatalf("%s: err = %v, want refused: %s", tenant, err, why)
		}
	}
	stopped := func(ctx context.Context, name string) {
		t.Helper()
		if !errors.Is(context.Cause(ctx), errPreempted) {
			t.Fatalf("%s: cause %v, want stopped for a tenant holding fewer", name, context.Cause(ctx))
		}
	}
	a1, releaseA1 := take("a")
	a2, releaseA2 := take("a")
	a3, releaseA3 := take("a")
	refused("a", "its share of the webhook's 4")
	b1, releaseB1 := take("b") // the last free slot
	b2, releaseB2 := take("b") // b holds one, a three: a's oldest stops
	stopped(a1, "a1")
	releaseA1()                // the stopped fetch ends: its slot is b's now, freed once
	c1, releaseC1 := take("c") // a and b hold two each: the older of theirs, a's, stops
	stopped(a2, "a2")
	d1, releaseD1 := take("d") // b holds two, d none
	stopped(b1, "b1")
	refused("e", "no namespace holds more than its share") // a, b, c and d hold one each
	refused("a", "no namespace holds more than its share")
	for name, ctx := range map[string]context.Context{"a3": a3, "b2": b2, "c1": c1, "d1": d1} {
		if ctx.Err() != nil {
			t.Fatalf("%s, an even share, was stopped: %v", name, context.Cause(ctx))
		}
	}
	for _, release := range []func(){releaseA2, releaseB1, releaseA3, releaseB2, releaseC1, releaseD1} {
		release()
	}
	if s.inFlight != 0 || len(s.byTenant) != 0 {
		t.Fatalf("after every release: %d in flight, tenants %v", s.inFlight, s.byTenant)
	}
	take("e")
}

// TestFetchSlotsStopTheLongestStalled: among the tenants holding the most, a newcomer
// stops the oldest fetch, which is the one stalled longest, not the lookup another
// namespace has just started (found by a hostile review: with the newest stopped, fresh
// namespaces could aim at a victim's live fetches and spare their own stalled ones).
func TestFetchSlotsStopTheLongestStalled(t *testing.T) {
	t.Parallel()
	s := newFetchSlots(6, 3)
	held := map[string][]context.Context{}
	for _, tenant := range []string{"stalled-1", "stalled-1", "stalled-2", "stalled-2", "victim", "victim"} {
		ctx, _, err := s.take(t.Context(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		held[tenant] = append(held[tenant], ctx)
	}
	if _, _, err := s.take(t.Context(), "newcomer"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(held["stalled-1"][0]), errPreempted) {
		t.Errorf("the oldest fetch: cause %v, want stopped", context.Cause(held["stalled-1"][0]))
	}
	for _, ctx := range append(held["victim"], held["stalled-2"]...) {
		if ctx.Err() != nil {
			t.Errorf("a younger fetch was stopped: %v", context.Cause(ctx))
		}
	}
}
