package envexec

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchmarkStartup measures envexec from start to the exec of the application (recorded,
// not performed) against the local real Vault: parse settings, scan the environment, log
// in, look up mounts, read each secret once, build the environment. References are
// spread evenly over the paths; each secret has 100 keys.
//
//	go test ./envexec -run '^$' -bench BenchmarkStartup -benchtime 50x
func BenchmarkStartup(b *testing.B) {
	f := vault(b)
	u := unique(b)
	const keys = 100
	data := map[string]any{}
	for k := range keys {
		data[fmt.Sprintf("k%d", k)] = fmt.Sprintf("value-%d-%s", k, u)
	}
	for p := range 20 {
		f.put(b, fmt.Sprintf("secret/data/%s/p%d", u, p), map[string]any{"data": data})
	}
	for _, refs := range []int{1, 10, 100} {
		for _, paths := range []int{1, 5, 20} {
			if paths > refs {
				continue // fewer references than paths cannot cover every path
			}
			b.Run(fmt.Sprintf("refs=%d/paths=%d", refs, paths), func(b *testing.B) {
				env, _ := f.env(b, EnvLogLevel+"=info")
				for i := range refs {
					env = append(env, fmt.Sprintf("V%d=vault:secret/%s/p%d#k%d", i, u, i%paths, i%keys))
				}
				benchRun(b, env, refs)
			})
		}
	}
}

func benchRun(b *testing.B, env []string, refs int) {
	b.Helper()
	var got []string
	r := &Runner{Environ: env, Stdout: io.Discard, Stderr: io.Discard, Exec: func(_ string, _, env []string) error {
		got = env
		return nil
	}}
	b.ReportAllocs()
	for b.Loop() {
		if code := r.Run(context.Background(), []string{"--", "true"}); code != ExitOK {
			b.Fatalf("exit %d", code)
		}
	}
	if len(got) < refs {
		b.Fatalf("the application got %d variables, want at least %d", len(got), refs)
	}
}
