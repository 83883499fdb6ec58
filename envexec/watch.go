package envexec

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// jitter spreads d by a tenth either way, so the pods of a Deployment, started together,
// do not check Vault together.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1) //nolint:gosec // spreading load, not a secret
}

// watched keeps the KV v2 reads of a session, one per API path, for daemon mode to
// compare their versions with Vault's.
func watched(reads []kvRead) []kvRead {
	var out []kvRead
	for _, r := range reads {
		if !containsAPI(out, r.api) {
			out = append(out, r)
		}
	}
	return out
}

func containsAPI(reads []kvRead, api string) bool {
	for _, r := range reads {
		if r.api == api {
			return true
		}
	}
	return false
}

// metadataPath is the KV v2 metadata path of the secret read at api.
func (k kvRead) metadataPath() string {
	return k.mount + "metadata/" + strings.TrimPrefix(k.api, k.mount+"data/")
}

// currentVersion asks Vault for the current version of a watched secret: from its
// metadata, which holds no value; where the policy does not allow reading metadata
// (403), from a read of the secret itself, whose value is dropped. noMetadata remembers
// that, so the refused request is not repeated.
func (c *client) currentVersion(ctx context.Context, k *kvRead) (int, error) {
	if !k.noMetadata {
		var out struct {
			Data struct {
				CurrentVersion json.Number `json:"current_version"`
			} `json:"data"`
		}
		err := c.call(ctx, request{method: http.MethodGet, path: k.metadataPath()}, &out)
		var se *statusError
		if !errors.As(err, &se) || se.code != http.StatusForbidden {
			if err != nil {
				return 0, err
			}
			n, _ := out.Data.CurrentVersion.Int64()
			return int(n), nil
		}
		k.noMetadata = true
		c.log.Info("watching by reading the secret: the policy does not allow reading its metadata", "path", k.metadataPath())
	}
	sec, err := c.read(ctx, k.api, 0)
	if err != nil {
		return 0, err
	}
	return kvVersion(sec.data), nil
}

// watch compares the version of every watched secret with Vault's and reports whether
// one changed. A failed check is logged and tried again at the next interval.
func (d *daemon) watch(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, d.s.Timeout)
	defer cancel()
	changed := false
	for i := range d.kv {
		k := &d.kv[i]
		v, err := d.sess.c.currentVersion(ctx, k)
		if err != nil && interrupted(ctx) {
			return false // watchAt unchanged: the next round checks again
		}
		switch {
		case err != nil:
			d.inv.log.Warn("checking a secret's version failed, will retry", "path", k.api, "error", err.Error())
		case v != k.version:
			d.inv.log.Info("secret changed", "path", k.api, "version", v, "previousVersion", k.version, "action", string(d.s.OnChange))
			changed = true
		}
	}
	d.watchAt = time.Now().Add(jitter(d.s.Watch))
	return changed
}

// changed applies ENVEXEC_DAEMON_ON_CHANGE once a watched secret changed. Files are
// rewritten first in every case but stop.
func (d *daemon) changed(ctx context.Context) error {
	switch d.s.OnChange {
	case settings.ExpirySignal:
		if d.refresh(ctx) {
			d.inv.log.Info("signaling application", "signal", d.s.Signal.String())
			d.child.forward(d.s.Signal)
		}
		return nil
	case settings.ExpiryStop:
		d.inv.log.Info("stopping application: a secret changed")
		d.child.stop(d.s.Signal, d.s.Grace)
		return &exitError{code: ExitSecretChanged}
	default:
		return d.restart(ctx)
	}
}

// refresh fetches every secret again and rewrites the files, for an application that
// keeps running (signal). It reports whether it succeeded; if not, envexec retries.
func (d *daemon) refresh(ctx context.Context) bool {
	_, sess, ok := d.fetchFresh(ctx)
	if ok {
		d.sess = sess
		d.track(sess, time.Now())
	}
	return ok
}

// fetchFresh fetches every secret again (rewriting the files) within the start-up
// timeout; on failure it logs and sets the retry, and the caller leaves things as they are.
func (d *daemon) fetchFresh(ctx context.Context) (application, *session, bool) {
	ctx, cancel := context.WithTimeout(ctx, d.s.Timeout)
	defer cancel()
	app, sess, err := d.inv.refetch(ctx, d.s, d.vars, d.argv, d.sess.c)
	if err != nil && interrupted(ctx) {
		d.inv.log.Debug("fetching fresh secrets interrupted by a signal")
		return application{}, nil, false
	}
	if err != nil {
		d.inv.log.Error("fetching fresh secrets failed, will retry", append(errorAttrs(err), "retryIn", retryRefetch.String())...)
		d.retryAt = time.Now().Add(retryRefetch)
		return application{}, nil, false
	}
	return app, sess, true
}
