package server

import "time"

// AnonSampler records the highest anonymous resident memory (RssAnon: heap, stacks) of a
// process while it runs. The kernel keeps a high-water mark of the total only (VmHWM),
// which also counts the binary's own pages read from disk; this tells the two apart.
type AnonSampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
}

// SampleAnon starts sampling every interval until Stop.
func (p *Process) SampleAnon(every time.Duration) *AnonSampler {
	s := &AnonSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := statusBytes(p.PID(), "RssAnon"); err == nil {
				s.peak = max(s.peak, v)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the highest RssAnon seen, in bytes.
func (s *AnonSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peak
}
