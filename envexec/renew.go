package envexec

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// lease is something daemon mode keeps alive: envexec's token (id empty) or the lease of
// a dynamic secret.
type lease struct {
	id   string
	path string
	// ttl is the time to live granted at granted; requested is what envexec asks for
	// at each renewal (the first TTL), so a shorter grant shows the max TTL is near.
	ttl, requested time.Duration
	granted        time.Time
	// final means the lease cannot be renewed any more (not renewable, its max TTL is
	// reached, or a renewal failed): it is acted on when a third of it is left.
	final bool
}

func newLease(id, path string, ttl time.Duration, renewable bool, now time.Time) *lease {
	return &lease{id: id, path: path, ttl: ttl, requested: ttl, granted: now, final: !renewable}
}

// expires is when the lease ends unless renewed.
func (l *lease) expires() time.Time { return l.granted.Add(l.ttl) }

// due is when the lease next needs attention: renewal, or the expiry action, both at two
// thirds of its TTL.
func (l *lease) due() time.Time { return l.granted.Add(l.ttl * 2 / 3) }

// renewed records a renewal's answer; a grant shorter than asked means the max TTL is
// reached, so this was the last renewal.
func (l *lease) renewed(ttl time.Duration, renewable bool, now time.Time) {
	l.ttl, l.granted = ttl, now
	l.final = !renewable || ttl < l.requested
}

func increment(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// renewToken renews envexec's own token.
func (c *client) renewToken(ctx context.Context, l *lease) error {
	var out authResponse
	r := request{method: http.MethodPost, path: "auth/token/renew-self", body: map[string]string{"increment": increment(l.requested)}}
	if err := c.call(ctx, r, &out); err != nil {
		return fmt.Errorf("renewing the token: %w", err)
	}
	if out.Auth == nil {
		return fmt.Errorf("renewing the token: response has no auth")
	}
	l.renewed(time.Duration(out.Auth.LeaseDuration)*time.Second, out.Auth.Renewable, time.Now())
	return nil
}

// renewLease renews a dynamic secret's lease.
func (c *client) renewLease(ctx context.Context, l *lease) error {
	var out secretResponse
	r := request{method: http.MethodPut, path: "sys/leases/renew", body: map[string]string{"lease_id": l.id, "increment": increment(l.requested)}}
	if err := c.call(ctx, r, &out); err != nil {
		return fmt.Errorf("renewing the lease of %s: %w", l.path, err)
	}
	l.renewed(time.Duration(out.LeaseDuration)*time.Second, out.Renewable, time.Now())
	return nil
}
