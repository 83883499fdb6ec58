package envexec

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
)

// errInterrupted ends a maintenance round's Vault calls when a signal arrives: the round
// leaves things as they were, and the loop handles the signal before it tries again.
var errInterrupted = errors.New("interrupted by a signal")

// interrupter relays the signals envexec receives to the daemon loop, and interrupts the
// maintenance round in progress when one arrives. Without it a Vault that did not answer
// held the loop in its retries: the kubelet's SIGTERM never reached the application, and
// an application that exited was not noticed, until Vault came back.
type interrupter struct {
	out    chan os.Signal
	mu     sync.Mutex
	cancel context.CancelCauseFunc
}

func newInterrupter() *interrupter { return &interrupter{out: make(chan os.Signal, 64)} }

// relay passes each signal from in to i.out, dropping one i.out has no room for (as
// signal.Notify does), then interrupts the round in progress. SIGURG, the Go runtime's
// preemption signal, is envexec's own and goes nowhere. relay returns when in is closed.
func (i *interrupter) relay(in <-chan os.Signal) {
	for sig := range in {
		if sig == syscall.SIGURG {
			continue
		}
		select {
		case i.out <- sig:
		default:
		}
		i.interrupt()
	}
}

// begin starts a maintenance round whose context ends when a signal arrives, or one is
// already waiting for the loop; end must be called when the round is over.
func (i *interrupter) begin(ctx context.Context) (round context.Context, end func()) {
	round, cancel := context.WithCancelCause(ctx)
	i.mu.Lock()
	i.cancel = cancel
	i.mu.Unlock()
	// relay sends before it interrupts: a signal it sent before the round began is seen here.
	if len(i.out) > 0 {
		cancel(errInterrupted)
	}
	return round, func() {
		i.mu.Lock()
		i.cancel = nil
		i.mu.Unlock()
		cancel(nil)
	}
}

func (i *interrupter) interrupt() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cancel != nil {
		i.cancel(errInterrupted)
	}
}

// interrupted tells whether ctx, a maintenance round's or one derived from it, ended
// because a signal arrived: what failed then did not fail, and nothing is to be changed.
func interrupted(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errInterrupted) }
