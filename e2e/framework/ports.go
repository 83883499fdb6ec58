package framework

import (
	"context"
	"fmt"
	"net"
)

// freeAddr returns a loopback address nobody listens on right now. Another process may
// take it before the caller binds; starters retry or fail clearly in that case.
func freeAddr(ctx context.Context) (string, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// UnreachableVaultAddr is a Vault URL where nothing listens, for "Vault is down" tests
// that must not disturb the shared Vault other specs use. The webhook must allow it
// (WebhookOptions.AllowedVaultAddrs), so it is chosen once, before the webhook starts;
// a loopback port nobody listens on now is very unlikely to get a listener later.
func UnreachableVaultAddr(ctx context.Context) (string, error) {
	addr, err := freeAddr(ctx)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}
