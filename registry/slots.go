package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// WithTenant says for whom the lookups made with ctx are: the webhook passes the pod's
// namespace, so that fetches in flight are shared fairly (Options.MaxFetchesPerTenant).
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

type tenantKey struct{}

// tenantOf is the tenant WithTenant set on ctx; "" for lookups made for no one in
// particular, which share one tenant's share.
func tenantOf(ctx context.Context) string {
	tenant, _ := ctx.Value(tenantKey{}).(string)
	return tenant
}

// errPreempted is the cause with which a fetch is stopped to give its slot to a tenant
// holding fewer.
var errPreempted = errors.New("its fetch was stopped to give the slot to a namespace with fewer fetches in flight; try again")

// fetchSlots bounds the fetches in flight: all of them, and those started for one
// tenant. When every slot is held, a tenant holding at least two fewer than the tenant
// holding the most takes that tenant's oldest slot, stopping its fetch: a few namespaces
// (one owner's, or named by a caller of the port) naming slow registries can hold the
// slots only until other namespaces need them. The oldest, because a stalled fetch is an
// old one: among tenants holding the most, a fresh namespace stops the longest stalled
// fetch, not the lookup another namespace just started.
type fetchSlots struct {
	max, perTenant int

	mu       sync.Mutex
	inFlight int
	byTenant map[string][]*slot // each tenant's slots in the order taken
	taken    uint64             // slots taken so far, to order them
}

// slot is one fetch in flight.
type slot struct {
	seq  uint64
	stop context.CancelCauseFunc
}

func newFetchSlots(maxFetches, perTenant int) *fetchSlots {
	return &fetchSlots{max: maxFetches, perTenant: perTenant, byTenant: map[string][]*slot{}}
}

// take holds a slot for tenant until release is called, for a fetch made with the
// returned context, which is canceled (cause errPreempted) if the slot is taken for
// another tenant. It fails at once, saying why, when the tenant's share is held, or every
// slot is held and none can be taken.
func (s *fetchSlots) take(ctx context.Context, tenant string) (context.Context, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := len(s.byTenant[tenant])
	if mine >= s.perTenant {
		return nil, nil, fmt.Errorf("this namespace already has %d registry fetches in flight, its share of the webhook's %d; try again", s.perTenant, s.max)
	}
	if s.inFlight >= s.max && !s.preempt(mine) {
		return nil, nil, fmt.Errorf("the webhook already has %d registry fetches in flight, its most, and no namespace holds more than its share; try again", s.max)
	}
	s.inFlight++
	s.taken++
	fctx, stop := context.WithCancelCause(ctx)
	sl := &slot{seq: s.taken, stop: stop}
	s.byTenant[tenant] = append(s.byTenant[tenant], sl)
	return fctx, func() {
		stop(nil)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.free(tenant, sl)
	}, nil
}

// preempt stops the oldest fetch of the tenants holding the most slots, if they hold at
// least two more than mine, and frees its slot; it reports whether it did.
func (s *fetchSlots) preempt(mine int) bool {
	var victim string
	var oldest *slot
	most := 0
	for tenant, slots := range s.byTenant {
		first := slots[0] // slots are in the order taken
		if len(slots) > most || (len(slots) == most && first.seq < oldest.seq) {
			victim, oldest, most = tenant, first, len(slots)
		}
	}
	if most < mine+2 {
		return false
	}
	oldest.stop(errPreempted)
	s.free(victim, oldest)
	return true
}

// free gives back sl, once: a preempted slot is freed when it is stopped, and its fetch's
// own release then finds it gone.
func (s *fetchSlots) free(tenant string, sl *slot) {
	slots := s.byTenant[tenant]
	for i, held := range slots {
		if held == sl {
			s.inFlight--
			if slots = append(slots[:i], slots[i+1:]...); len(slots) == 0 {
				delete(s.byTenant, tenant) // the map holds only tenants with fetches in flight
			} else {
				s.byTenant[tenant] = slots
			}
			return
		}
	}
}
