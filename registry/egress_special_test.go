package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/registry"
)

// TestRefuseSpecialPurposeRanges names registries at special-purpose addresses that
// netip's predicates do not call private (found by attacking the first egress check): reserved class E (GKE lets
// clusters use 240.0.0.0/4 for pods and services), benchmarking 198.18.0.0/15, IETF
// protocol assignments 192.0.0.0/24, 6to4 addresses embedding the metadata service and
// loopback, and the RFC 8215 local-use NAT64 prefix 64:ff9b:1::/48 embedding the metadata
// service. Each must be refused before any connection, as the other non-public ranges are.
func TestRefuseSpecialPurposeRanges(t *testing.T) {
	t.Parallel()
	res := registry.New(registry.Options{}, nil)
	for _, host := range []string{
		"240.0.0.1",
		"198.18.0.1",
		"192.0.0.170",
		"[2002:a9fe:a9fe::1]",    // 6to4 of 169.254.169.254
		"[2002:7f00:1::1]",       // 6to4 of 127.0.0.1
		"[64:ff9b:1::a9fe:a9fe]", // local-use NAT64 of 169.254.169.254
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := res.Resolve(ctx, host+"/app:1", amd64, nil)
		cancel()
		if !errors.Is(err, registry.ErrNotPublic) {
			t.Errorf("%s: err = %v, want ErrNotPublic (the webhook tried to connect)", host, err)
		}
	}
}
