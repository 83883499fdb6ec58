package faultproxy

import "time"

// Faults is the set of faults in force; the zero value forwards faithfully. Up is the
// client-to-target direction, down the target-to-client one.
type Faults struct {
	// UpLatency delays every chunk sent by the client before it reaches the target.
	UpLatency time.Duration
	// DownLatency delays every chunk sent by the target before it reaches the client.
	DownLatency time.Duration
	// Bandwidth caps each direction of each connection, in bytes per second; 0 means
	// unlimited.
	Bandwidth int
	// Reset answers each new connection with a TCP RST, and resets an open connection
	// when its next chunk passes.
	Reset bool
	// Blackhole accepts new connections and swallows what they send without forwarding
	// or answering, and drops the chunks of open connections. A connection accepted while
	// blackholed stays so.
	Blackhole bool
	// CloseAfter closes a connection (FIN) once that many bytes reached the client, so
	// the client sees a truncated answer; 0 means never.
	CloseAfter int64
}

// Faults returns the faults in force.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Set replaces every fault at once.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// Update changes some faults and keeps the others.
func (p *Proxy) Update(change func(*Faults)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(&p.faults)
}

// Clear removes every fault: the proxy forwards faithfully again.
func (p *Proxy) Clear() { p.Set(Faults{}) }

// SetLatency delays each direction by its own amount.
func (p *Proxy) SetLatency(up, down time.Duration) {
	p.Update(func(f *Faults) { f.UpLatency, f.DownLatency = up, down })
}

// SetBandwidth caps each direction at bytesPerSecond (0: unlimited).
func (p *Proxy) SetBandwidth(bytesPerSecond int) {
	p.Update(func(f *Faults) { f.Bandwidth = bytesPerSecond })
}

// SetReset switches connection resets on or off.
func (p *Proxy) SetReset(on bool) { p.Update(func(f *Faults) { f.Reset = on }) }

// SetBlackhole switches the blackhole on or off.
func (p *Proxy) SetBlackhole(on bool) { p.Update(func(f *Faults) { f.Blackhole = on }) }

// SetCloseAfter truncates connections after n bytes towards the client (0: never).
func (p *Proxy) SetCloseAfter(n int64) { p.Update(func(f *Faults) { f.CloseAfter = n }) }
