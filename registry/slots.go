package registry

import (
	"context"
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

// fetchSlots bounds the fetches in flight: all of them, and those started for one tenant,
// so that one namespace naming slow registries cannot take every slot from the others.
type fetchSlots struct {
	max, perTenant int

	mu       sync.Mutex
	inFlight int
	byTenant map[string]int
}

func newFetchSlots(maxFetches, perTenant int) *fetchSlots {
	return &fetchSlots{max: maxFetches, perTenant: perTenant, byTenant: map[string]int{}}
}

// take holds a slot for tenant until release is called; it fails at once, saying why,
// when every slot or the tenant's share is held.
func (s *fetchSlots) take(tenant string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.inFlight >= s.max:
		return nil, fmt.Errorf("the webhook already has %d registry fetches in flight, its most; try again", s.max)
	case s.byTenant[tenant] >= s.perTenant:
		return nil, fmt.Errorf("this namespace already has %d registry fetches in flight, its share of the webhook's %d; try again", s.perTenant, s.max)
	}
	s.inFlight++
	s.byTenant[tenant]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.inFlight--
		if s.byTenant[tenant]--; s.byTenant[tenant] == 0 {
			delete(s.byTenant, tenant) // the map holds only tenants with fetches in flight
		}
	}, nil
}
