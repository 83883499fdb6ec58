package envexec

import (
	"context"
	"os"
	"os/exec"
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

// A SIGCHLD interrupts a round only when the application exited: an orphan envexec
// adopted and reaped must not restart the Vault calls in progress, or a steady stream of
// orphans could keep them from ever finishing.
func TestInterrupterSIGCHLDOnlyForTheApplication(t *testing.T) {
	t.Parallel()
	app := exec.Command("/bin/sleep", "60") //nolint:noctx // killed below
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	in := make(chan os.Signal, 4)
	i := newInterrupter()
	i.app.Store(int64(app.Process.Pid))
	go i.relay(in)
	defer close(in)

	if i.appExited() {
		t.Fatal("a running application shows as exited")
	}
	round, end := i.begin(t.Context())
	in <- syscall.SIGCHLD // an orphan's: the application still runs
	<-i.out
	time.Sleep(200 * time.Millisecond) // the relay interrupts right after it sends, if it does
	if interrupted(round) {
		t.Error("a SIGCHLD while the application runs interrupted the round")
	}
	if err := app.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet, as envexec reaps only on its loop: the application is a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for !i.appExited() {
		if time.Now().After(deadline) {
			t.Fatal("the killed application never showed as exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	in <- syscall.SIGCHLD
	select {
	case <-round.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the application's exit did not interrupt the round")
	}
	end()
	<-i.out
	_ = app.Wait() // reaped: the test binary's own child
}
