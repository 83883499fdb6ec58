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
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil, errors.New("not a single-question query")
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil, errors.New("bad name")
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil, errors.New("short question")
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	addr, known := records[strings.ToLower(strings.Join(labels, "."))]

	resp := append([]byte{}, q[:2]...)
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
	ancount := uint16(0)
	if rdata != nil {
		ancount = 1
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, ancount)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = append(resp, question...)
	if rdata != nil {
		resp = append(resp, 0xc0, 12) // the name, pointing at the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // class IN
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp, nil
}
