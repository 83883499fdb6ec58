package envexec

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestInterrupter(t *testing.T) {
	t.Parallel()
	in := make(chan os.Signal, 4)
	i := newInterrupter()
	go i.relay(in)
	defer close(in)

	round, end := i.begin(t.Context())
	in <- syscall.SIGURG // the runtime's own: neither relayed nor interrupting
	in <- syscall.SIGHUP
	select {
	case <-round.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a signal did not interrupt the round")
	}
	derived, cancel := context.WithTimeout(round, time.Hour)
	defer cancel()
	if !interrupted(round) || !interrupted(derived) {
		t.Errorf("interrupted: round %v, derived %v; want both", interrupted(round), interrupted(derived))
	}
	if sig := <-i.out; sig != syscall.SIGHUP {
		t.Errorf("relayed %v first, want SIGHUP (SIGURG dropped)", sig)
	}
	end()

	// A signal that arrived between rounds is still waiting for the loop: the next round
	// must not start a Vault call that could keep it waiting.
	in <- syscall.SIGTERM
	for len(i.out) == 0 {
		time.Sleep(time.Millisecond)
	}
	round, end = i.begin(t.Context())
	if !interrupted(round) {
		t.Error("a round begun with a signal waiting was not interrupted")
	}
	end()
	<-i.out

	round, end = i.begin(t.Context())
	end()
	if interrupted(round) {
		t.Error("a round that ended without a signal reads as interrupted")
	}
}
