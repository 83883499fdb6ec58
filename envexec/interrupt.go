package envexec

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	out chan os.Signal
	// app is the application's pid (0 before it starts): a SIGCHLD interrupts a round
	// only when the application exited, not for each orphan envexec adopts.
	app    atomic.Int64
	mu     sync.Mutex
	cancel context.CancelCauseFunc
}

func newInterrupter() *interrupter { return &interrupter{out: make(chan os.Signal, 64)} }

// relay passes each signal from in to i.out, dropping one i.out has no room for (as
// signal.Notify does), then interrupts the round in progress: for any signal but a
// SIGCHLD that only an orphan's exit sent. SIGURG, the Go runtime's preemption signal,
// is envexec's own and goes nowhere. relay returns when in is closed.
func (i *interrupter) relay(in <-chan os.Signal) {
	for sig := range in {
		if sig == syscall.SIGURG {
			continue
		}
		select {
		case i.out <- sig:
		default:
		}
		if sig != syscall.SIGCHLD || i.appExited() {
			i.interrupt()
		}
	}
}

// appExited tells whether the application has exited and waits to be reaped (a zombie);
// when that cannot be told, it says yes, and the round is interrupted as for any signal.
func (i *interrupter) appExited() bool {
	pid := i.app.Load()
	if pid <= 0 {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.FormatInt(pid, 10) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold anything, so the state follows the last ")".
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) == 0 || fields[0] == "Z" || fields[0] == "X"
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
