package registrytest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// StartDNS serves DNS on loopback UDP for the test: each name in records (without the
// trailing dot) resolves to its address, every other name does not exist. It returns a
// resolver that asks only this server, so tests can make a registry name resolve to any
// address, private ones included, through the real resolution path.
func StartDNS(t testing.TB, records map[string]netip.Addr) *net.Resolver {
	t.Helper()
	conn, err := (&net.ListenConfig{}).ListenPacket(t.Context(), "udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go serveDNS(conn, records)
	addr := conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", addr)
	}}
}

func serveDNS(conn net.PacketConn, records map[string]netip.Addr) {
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, err := answer(buf[:n], records); err == nil {
			_, _ = conn.WriteTo(resp, from)
		}
	}
}

const (
	typeA    = 1
	typeAAAA = 28
)

// answer builds the response to one query: the header and question echoed, then an A or
// AAAA record when the name has an address of that family.
func answer(q []byte, records map[string]netip.Addr) ([]byte, error) {
	name, qtype, end, err := question(q)
	if err != nil {
		return nil, err
	}
	addr, known := records[name]
	flags := uint16(0x8180) // a response, recursion desired and available, no error
	if !known {
		flags |= 3 // NXDOMAIN
	}
	var rdata []byte
	switch {
	case known && qtype == typeA && addr.Is4():
		b := addr.As4()
		rdata = b[:]
	case known && qtype == typeAAAA && addr.Is6():
		b := addr.As16()
		rdata = b[:]
	}
	resp := append([]byte{}, q[:2]...)
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(min(len(rdata), 1))) // one answer or none
	resp = binary.BigEndian.AppendUint32(resp, 0)                          // no authority, no additional records
	resp = append(resp, q[12:end]...)
	if rdata != nil {
		resp = append(resp, 0xc0, 12) // the name, pointing at the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // class IN
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata))) //nolint:gosec // 4 or 16 bytes
		resp = append(resp, rdata...)
	}
	return resp, nil
}

// question reads the one question of query q: its name (lower case, no trailing dot), its
// type, and where it ends.
func question(q []byte) (string, uint16, int, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return "", 0, 0, errors.New("not a single-question query")
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return "", 0, 0, errors.New("bad name")
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return "", 0, 0, errors.New("short question")
	}
	return strings.ToLower(strings.Join(labels, ".")), binary.BigEndian.Uint16(q[i+1 : i+3]), i + 5, nil
}
