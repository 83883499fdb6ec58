package envexec

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// retryRefetch is how soon daemon mode tries again when fetching fresh secrets failed.
const retryRefetch = 10 * time.Second

// exitError carries the application's exit code out of daemon mode; it is not a failure
// of envexec, so it is not logged as one.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("application exited with code %d", e.code) }

// daemon keeps the application as a child and its secrets alive: it renews the token
// and leases, and acts (ENVEXEC_DAEMON_ON_EXPIRY) when a lease can no longer be renewed.
type daemon struct {
	inv  *invocation
	s    settings.Settings
	vars []variable
	// argv is the command line as written, references included; app is what runs.
	argv  []string
	app   application
	sess  *session
	token *lease
	// leases are the dynamic secrets the running application got.
	leases []*lease
	// usesLogin means the application holds envexec's token (vault:login), so a token
	// that cannot be renewed is handled like a lease.
	usesLogin bool
	// signaled records leases already handled by the "signal" action.
	signaled map[*lease]bool
	// retryAt delays the next attempt after a failed re-fetch or login: nothing is
	// maintained before it.
	retryAt time.Time
	// kv are the secrets whose versions are watched (ENVEXEC_DAEMON_WATCH_INTERVAL), next
	// at watchAt.
	kv      []kvRead
	watchAt time.Time
	child   *child
	// interrupts ends a maintenance round's Vault calls when a signal arrives.
	interrupts *interrupter
}

// session is a logged-in client, the leases of what it fetched and the KV v2 secrets it
// read at their current version.
type session struct {
	c      *client
	leases []leased
	kv     []kvRead
}

func (inv *invocation) daemonize(ctx context.Context, s settings.Settings, vars []variable, sess *session, argv []string, app application) error {
	raw := make(chan os.Signal, 64)
	signal.Notify(raw)
	interrupts := newInterrupter()
	go interrupts.relay(raw)
	defer func() {
		signal.Stop(raw)
		close(raw) // ends the relay
	}()
	if err := becomeSubreaper(); err != nil {
		inv.log.Warn("cannot adopt orphaned processes", "error", err.Error())
	}
	d := &daemon{
		inv: inv, s: s, vars: vars, argv: argv, app: app, sess: sess, signaled: map[*lease]bool{},
		child:     &child{log: inv.log, sigs: interrupts.out, started: func(pid int) { interrupts.app.Store(int64(pid)) }},
		usesLogin: usesLogin(vars), interrupts: interrupts,
	}
	d.track(sess, time.Now())
	if err := d.child.start(app.path, app.argv, app.env); err != nil {
		return app.failed(err)
	}
	// The start-up deadline and SIGTERM no longer apply: signals go to the application.
	return d.loop(context.WithoutCancel(ctx), interrupts.out)
}

// track records the token and leases of a session.
func (d *daemon) track(sess *session, now time.Time) {
	if sess == nil {
		return
	}
	if c := sess.c; c.tokenTTL > 0 && d.token == nil {
		d.token = newLease("", "token", c.tokenTTL, c.tokenRenewable, now)
	}
	d.leases = d.leases[:0]
	for _, l := range sess.leases {
		d.leases = append(d.leases, newLease(l.sec.leaseID, l.path, l.sec.leaseDuration, l.sec.renewable, now))
	}
	if d.s.Watch > 0 {
		d.kv = sess.kv
		d.watchAt = now.Add(jitter(d.s.Watch))
	}
}

func (d *daemon) loop(ctx context.Context, sigs <-chan os.Signal) error {
	timer := time.NewTimer(d.wait())
	defer timer.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGCHLD {
				d.child.forward(sig)
			}
		case <-poll.C:
		case <-timer.C:
			round, end := d.interrupts.begin(ctx)
			err := d.maintain(round)
			end()
			if err != nil {
				return err
			}
			timer.Reset(d.wait())
		}
		if code, exited := d.child.reap(); exited {
			return &exitError{code: code}
		}
	}
}

// wait is the time until the next renewal or expiry action; never before retryAt, as
// maintain does nothing until then (a token overdue meanwhile made the loop spin).
func (d *daemon) wait() time.Duration {
	next := time.Now().Add(24 * time.Hour)
	for _, l := range d.pending() {
		if t := l.due(); t.Before(next) {
			next = t
		}
	}
	if len(d.kv) > 0 && d.watchAt.Before(next) {
		next = d.watchAt
	}
	if d.retryAt.After(next) {
		next = d.retryAt
	}
	return max(time.Until(next), 0)
}

// pending lists what still needs attention: the token and leases not yet handled.
func (d *daemon) pending() []*lease {
	var out []*lease
	if d.token != nil {
		out = append(out, d.token)
	}
	for _, l := range d.leases {
		if !d.signaled[l] {
			out = append(out, l)
		}
	}
	return out
}

// maintain renews what is due and acts on leases that cannot be renewed. An error ends
// daemon mode (the "stop" action, or the application exiting while being restarted).
// ctx is a round's (interrupter.begin): once a signal interrupts it, maintain returns
// with nothing changed, and the loop tries again after handling the signal.
func (d *daemon) maintain(ctx context.Context) error {
	now := time.Now()
	if now.Before(d.retryAt) {
		return nil
	}
	if d.token != nil && !now.Before(d.token.due()) {
		if err := d.renewToken(ctx); err != nil || interrupted(ctx) {
			return err
		}
	}
	if len(d.kv) > 0 && !now.Before(d.watchAt) && d.watch(ctx) {
		return d.changed(ctx)
	}
	if !d.renewLeases(ctx, now) || interrupted(ctx) {
		return nil
	}
	return d.expire(ctx)
}

// renewLeases renews the leases that are due, and reports whether one cannot be renewed
// (its expiry action is due). A renewal a signal interrupted is left to the next round.
func (d *daemon) renewLeases(ctx context.Context, now time.Time) (expiring bool) {
	for _, l := range d.leases {
		if d.signaled[l] || now.Before(l.due()) {
			continue
		}
		if !l.final {
			err := d.renewLease(ctx, l)
			switch {
			case err == nil:
				d.inv.log.Debug("renewed lease", "path", l.path, "ttl", l.ttl.String(), "final", l.final)
				continue
			case interrupted(ctx):
				return false
			}
			d.inv.log.Warn("lease renewal failed", "path", l.path, "error", err.Error())
			l.final = true
		}
		d.inv.log.Info("lease cannot be renewed", "path", l.path, "action", string(d.s.OnExpiry))
		expiring = true
	}
	return expiring
}

// renewToken renews envexec's token, or logs in again when it cannot be renewed; if the
// application holds the token (vault:login), that is handled like an expiring lease.
func (d *daemon) renewToken(ctx context.Context) error {
	c := d.sess.c
	if !d.token.final {
		renewal, cancel := context.WithDeadline(ctx, d.token.expires())
		err := c.renewToken(renewal, d.token)
		cancel()
		switch {
		case err == nil:
			d.inv.log.Debug("renewed token", "ttl", d.token.ttl.String(), "final", d.token.final)
			return nil
		case interrupted(ctx):
			return nil
		}
		d.inv.log.Warn("token renewal failed", "error", err.Error())
	}
	if d.usesLogin {
		d.inv.log.Info("token cannot be renewed", "action", string(d.s.OnExpiry))
		return d.expire(ctx)
	}
	if d.s.AuthMethod == settings.AuthToken {
		d.inv.log.Warn("the Vault token cannot be renewed and, given as a file, cannot be replaced")
		d.token = nil
		return nil
	}
	// Bounded like a fetch of fresh secrets: while Vault does not answer, the leases
	// must still be looked at, and their expiry acted on.
	login, cancel := context.WithTimeout(ctx, d.s.Timeout)
	defer cancel()
	if err := c.authenticate(login, d.s); err != nil {
		if interrupted(ctx) {
			return nil
		}
		d.inv.log.Warn("logging in again failed", "error", err.Error())
		d.retryAt = time.Now().Add(retryRefetch)
		return nil
	}
	d.token = newLease("", "token", c.tokenTTL, c.tokenRenewable, time.Now())
	d.inv.log.Info("logged in again", "ttl", c.tokenTTL.String())
	return nil
}

// expire applies ENVEXEC_DAEMON_ON_EXPIRY.
func (d *daemon) expire(ctx context.Context) error {
	switch d.s.OnExpiry {
	case settings.ExpirySignal:
		if len(d.s.Files) > 0 && !d.refresh(ctx) {
			// Files first: the signal follows when they could be rewritten. The leases
			// stay due, so the refresh is tried again (after retryAt, or at once after a
			// signal interrupted it).
			return nil
		}
		for _, l := range d.leases {
			d.signaled[l] = d.signaled[l] || !time.Now().Before(l.due())
		}
		if d.token != nil && d.usesLogin && !time.Now().Before(d.token.due()) {
			d.token = nil
		}
		d.child.forward(d.s.Signal)
		return nil
	case settings.ExpiryStop:
		d.child.stop(d.s.Signal, d.s.Grace)
		return &exitError{code: ExitLeaseExpired}
	default:
		return d.restart(ctx)
	}
}

// restart fetches every secret again, then replaces the application with one that has
// the new values. If fetching fails, the application keeps running and envexec retries.
func (d *daemon) restart(ctx context.Context) error {
	app, sess, ok := d.fetchFresh(ctx)
	if !ok {
		return nil
	}
	d.inv.log.Info("restarting application with fresh secrets")
	code := d.child.stop(d.s.Signal, d.s.Grace)
	if d.child.external {
		return &exitError{code: code}
	}
	if d.usesLogin {
		d.token = nil // the new application gets the token of this session: track it afresh
	}
	d.sess, d.app = sess, app
	d.track(sess, time.Now())
	if err := d.child.start(app.path, app.argv, app.env); err != nil {
		return app.failed(err)
	}
	return nil
}

// usesLogin reports whether the application holds envexec's token (vault:login).
func usesLogin(vars []variable) bool {
	return slices.ContainsFunc(vars, func(v variable) bool {
		return slices.ContainsFunc(v.tmpl.Refs, func(r vaultref.Ref) bool { return r.Kind == vaultref.Login })
	})
}

// refetch logs in again when the application holds the token (so it gets a fresh one,
// with the session it returns), resolves every reference and from-path secret, and
// builds the new environment and command line.
func (inv *invocation) refetch(ctx context.Context, s settings.Settings, vars []variable, argv []string, c *client) (application, *session, error) {
	if usesLogin(vars) {
		// On a copy of the client: until every secret is fetched, the running application
		// keeps the token it holds, and daemon mode keeps renewing that one.
		fresh := *c
		fresh.sensitive = slices.Clone(c.sensitive)
		if err := fresh.authenticate(ctx, s); err != nil {
			return application{}, nil, err
		}
		c = &fresh
	}
	res, sess, err := inv.resolveWith(ctx, s, c, vars)
	if err != nil {
		return application{}, nil, err
	}
	if err := writeFiles(s.FilesDir, s.Files, res.files); err != nil {
		return application{}, nil, err
	}
	if len(s.Files) > 0 {
		inv.log.Info("files rewritten", "files", len(s.Files))
	}
	app, err := newApplication(inv.Environ, argv, res, s.Passthrough)
	if err != nil {
		return application{}, nil, err
	}
	return app, sess, nil
}

// renewLease renews l, retrying an unreachable Vault no longer than l lives: once it has
// expired, the expiry action is due whether Vault answers or not.
func (d *daemon) renewLease(ctx context.Context, l *lease) error {
	ctx, cancel := context.WithDeadline(ctx, l.expires())
	defer cancel()
	return d.sess.c.renewLease(ctx, l)
}
