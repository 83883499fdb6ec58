package loopback_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

func TestFreeAddrs(t *testing.T) {
	t.Parallel()
	addrs, err := loopback.FreeAddrs(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 3 || addrs[0] == addrs[1] || addrs[1] == addrs[2] || addrs[0] == addrs[2] {
		t.Errorf("addresses %v, want 3 distinct", addrs)
	}
}

// TestFreePortCanBeBound checks the port is free: something can listen on it at once.
func TestFreePortCanBeBound(t *testing.T) {
	t.Parallel()
	port, err := loopback.FreePort(t.Context())
	if err != nil || port <= 0 {
		t.Fatalf("port %d: %v", port, err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("cannot listen on the free port %d: %v", port, err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
}
