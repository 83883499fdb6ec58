// Package loopback finds free ports on 127.0.0.1 for the servers that tests, benchmarks
// and demos start (Vault, the webhook, probes, metrics).
package loopback

import (
	"context"
	"fmt"
	"net"
)

// FreeAddrs returns n distinct loopback addresses (127.0.0.1:port) nobody listens on now.
// The ports are released before return, so another process may take one first; the
// server that then cannot bind fails with a clear error.
func FreeAddrs(ctx context.Context, n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close() // held until all are found, so they differ
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// FreeAddr is one address of FreeAddrs.
func FreeAddr(ctx context.Context) (string, error) {
	addrs, err := FreeAddrs(ctx, 1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// FreePort is the port of FreeAddr, for servers configured by port.
func FreePort(ctx context.Context) (int, error) {
	addr, err := FreeAddr(ctx)
	if err != nil {
		return 0, err
	}
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return tcp.Port, nil
}
