package faultproxy

import "sync/atomic"

// Stats counts what the proxy did, so a test can wait for a fault to have been met
// instead of sleeping.
type Stats struct {
	// Accepted is the number of connections accepted.
	Accepted int64
	// Active is the number of connections open now (forwarded or blackholed).
	Active int64
	// Resets is the number of connections ended with a TCP RST, on accept or later.
	Resets int64
	// Blackholed is the number of connections accepted into the blackhole.
	Blackholed int64
	// Truncated is the number of connections closed by CloseAfter.
	Truncated int64
	// DialErrors is the number of failed dials of the target (the client was reset).
	DialErrors int64
	// BytesUp and BytesDown are the bytes delivered to the target and to clients.
	BytesUp, BytesDown int64
}

type counters struct {
	accepted, active, resets, blackholed, truncated, dialErrors, bytesUp, bytesDown atomic.Int64
}

// Stats returns the counters now.
func (p *Proxy) Stats() Stats {
	c := &p.stats
	return Stats{
		Accepted: c.accepted.Load(), Active: c.active.Load(), Resets: c.resets.Load(),
		Blackholed: c.blackholed.Load(), Truncated: c.truncated.Load(), DialErrors: c.dialErrors.Load(),
		BytesUp: c.bytesUp.Load(), BytesDown: c.bytesDown.Load(),
	}
}
