package envexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// watchApp appends "start <pid> <$SECRET>" when it starts and, on SIGHUP, "HUP <the
// file's content>", so an event shows what the file held when the signal came.
const watchApp = `trap 'echo "HUP $(cat "$FILE")" >> "$OUT"' HUP
trap 'echo term >> "$OUT"; exit 42' TERM
echo "start $$ $SECRET" >> "$OUT"
while :; do sleep 0.1; done
`

// watchEnv is a daemon-mode configuration watching one KV v2 secret every second: in a
// variable, and in a file below a fresh directory.
func watchEnv(t *testing.T, f *fixture, path, value string, extra ...string) (env []string, file string) {
	t.Helper()
	f.put(t, "secret/data/"+path, map[string]any{"data": map[string]any{"password": value}})
	dir, files := filesEnv(t, settings.FileSpec{Path: "app.ini", Content: "password = ${vault:secret/data/" + path + "#password}"})
	file = filepath.Join(dir, "app.ini")
	env, _ = f.env(t, append(append(files, extra...),
		settings.EnvDaemon+"=true", settings.EnvDaemonWatch+"=1s", "SECRET=vault:secret/data/"+path+"#password", "FILE="+file)...)
	return env, file
}

// A secret changed in Vault while the application runs: the file is rewritten, then the
// application gets the signal the pod named, and keeps running with its environment.
// With read on the metadata (watched/), the check reads no value; without it, it reads
// the secret.
func TestDaemonWatchRewritesFilesThenSignals(t *testing.T) {
	t.Parallel()
	for name, prefix := range map[string]string{"metadata": "watched/", "no metadata": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := vault(t)
			path := prefix + unique(t)
			old, fresh := canary(t), canary(t)
			env, file := watchEnv(t, f, path, old, settings.EnvDaemonOnChange+"=signal", settings.EnvDaemonSignal+"=SIGHUP")
			r := startDaemon(t, env, watchApp)
			waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
			if b, _ := os.ReadFile(file); string(b) != "password = "+old {
				t.Fatalf("file before the change: %q", b)
			}
			f.put(t, "secret/data/"+path, map[string]any{"data": map[string]any{"password": fresh}})
			waitFor(t, 30*time.Second, "SIGHUP after the change", func() bool { return countEvents(r.events(), "HUP") >= 1 })
			ev := r.events()
			if got := ev[nthEvent(ev, "HUP", 0)]; got != "HUP password = "+fresh {
				t.Errorf("at the signal the file held %q, want the new value: rewritten first", got)
			}
			if countEvents(ev, "start") != 1 || !strings.HasSuffix(ev[0], " "+old) {
				t.Errorf("events %q: want the application still running with its environment", ev)
			}
			stderr := r.stderr()
			for _, want := range []string{`"msg":"secret changed"`, `"previousVersion":1`, `"version":2`, `"msg":"files rewritten"`, `"msg":"signaling application"`} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %s", want)
				}
			}
			if fallback := strings.Contains(stderr, "policy does not allow reading its metadata"); fallback != (prefix == "") {
				t.Errorf("read the secret instead of the metadata: %v, want %v", fallback, prefix == "")
			}
			assertNoLeak(t, stderr, old, fresh)
		})
	}
}

// An env-only pod that asks for it (stop) exits with its own code, so the kubelet restarts
// the container with the new value; restart (the default) replaces the application.
func TestDaemonWatchStopAndRestart(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("stop", func(t *testing.T) {
		t.Parallel()
		path := unique(t)
		env, _ := watchEnv(t, f, path, canary(t), settings.EnvDaemonOnChange+"=stop", settings.EnvDaemonGrace+"=2s")
		r := startDaemon(t, env, watchApp)
		waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
		f.put(t, "secret/data/"+path, map[string]any{"data": map[string]any{"password": canary(t)}})
		if code := r.exitCode(t, 30*time.Second); code != ExitSecretChanged {
			t.Errorf("exit code %d, want %d", code, ExitSecretChanged)
		}
		if ev := r.events(); countEvents(ev, "term") != 1 {
			t.Errorf("events %q: want the application stopped with its signal", ev)
		}
	})
	t.Run("restart", func(t *testing.T) {
		t.Parallel()
		path := unique(t)
		fresh := canary(t)
		env, _ := watchEnv(t, f, path, canary(t))
		r := startDaemon(t, env, watchApp)
		waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
		f.put(t, "secret/data/"+path, map[string]any{"data": map[string]any{"password": fresh}})
		waitFor(t, 30*time.Second, "a restart", func() bool { return countEvents(r.events(), "start") == 2 })
		ev := r.events()
		if got := ev[nthEvent(ev, "start", 1)]; !strings.HasSuffix(got, " "+fresh) {
			t.Errorf("the new application started with %q, want the new value", got)
		}
	})
}

// Without a change nothing happens: a few intervals pass with one start and no signal.
func TestDaemonWatchQuietWithoutChange(t *testing.T) {
	t.Parallel()
	f := vault(t)
	env, _ := watchEnv(t, f, unique(t), canary(t), settings.EnvDaemonOnChange+"=signal", settings.EnvDaemonSignal+"=SIGHUP")
	r := startDaemon(t, env, watchApp)
	waitFor(t, 20*time.Second, "the application", func() bool { return countEvents(r.events(), "start") == 1 })
	waitFor(t, 20*time.Second, "three checks", func() bool { return strings.Count(r.stderr(), `"msg":"reading secret"`) >= 4 })
	if ev := r.events(); countEvents(ev, "HUP") != 0 || countEvents(ev, "start") != 1 {
		t.Errorf("events %q: want nothing without a change", ev)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(time.Minute)
		if d < 54*time.Second || d > 66*time.Second {
			t.Fatalf("jitter(1m) = %v, want within a tenth", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct intervals in 200: not spread", len(seen))
	}
}
