package envexec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// benchKeys is the number of keys in each benchmark secret.
const benchKeys = 100

// benchSecrets writes the 20 secrets the start-up benchmarks read, each with benchKeys
// keys, under a fresh prefix that it returns.
func benchSecrets(b *testing.B, f *fixture) string {
	b.Helper()
	u := unique(b)
	data := map[string]any{}
	for k := range benchKeys {
		data[fmt.Sprintf("k%d", k)] = fmt.Sprintf("value-%d-%s", k, u)
	}
	for p := range 20 {
		f.put(b, fmt.Sprintf("secret/data/%s/p%d", u, p), map[string]any{"data": data})
	}
	return u
}

// BenchmarkStartup measures envexec from start to the exec of the application (recorded,
// not performed) against the local real Vault: parse settings, scan the environment, log
// in, look up mounts, read each secret once, build the environment. References are
// spread evenly over the paths and written in the CLI form (secret/...), so every read
// waits for its mount lookup; the api-form cases write secret/data/..., as bank-vaults
// users do, and read alongside the lookup.
//
//	go test ./envexec -run '^$' -bench BenchmarkStartup -benchtime 50x
func BenchmarkStartup(b *testing.B) {
	f := vault(b)
	u := benchSecrets(b, f)
	run := func(name string, refs, paths int, form string) {
		b.Run(name, func(b *testing.B) {
			env, _ := f.env(b, settings.EnvLogLevel+"=info")
			for i := range refs {
				env = append(env, fmt.Sprintf("V%d=vault:secret/%s%s/p%d#k%d", i, form, u, i%paths, i%benchKeys))
			}
			benchRun(b, env, refs)
		})
	}
	for _, refs := range []int{1, 10, 100} {
		for _, paths := range []int{1, 5, 20} {
			if paths > refs {
				continue // fewer references than paths cannot cover every path
			}
			run(fmt.Sprintf("refs=%d/paths=%d", refs, paths), refs, paths, "")
		}
	}
	run("refs=1/paths=1/api-form", 1, 1, "data/")
	run("refs=100/paths=20/api-form", 100, 20, "data/")
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

// BenchmarkVaultFloor is what Vault alone costs for the same work, without envexec: a
// bare HTTP client on fresh connections logs in with the same JWT role and reads the
// same secrets by their API paths (no mount lookup), as many at once as envexec allows.
// "login+read" is the yardstick for BenchmarkStartup; "login+20-reads" is the
// least any client can take for 20 paths on this Vault.
func BenchmarkVaultFloor(b *testing.B) {
	f := vault(b)
	u := benchSecrets(b, f)
	login, err := json.Marshal(map[string]string{"role": testRole, "jwt": signJWT(b, f.key, testAudience)})
	if err != nil {
		b.Fatal(err)
	}
	for _, reads := range []int{1, 20} {
		name := "login+read"
		if reads > 1 {
			name = fmt.Sprintf("login+%d-reads", reads)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxParallel}}
				var auth struct {
					Auth struct {
						ClientToken string `json:"client_token"`
					} `json:"auth"`
				}
				if err := floorCall(b.Context(), c, http.MethodPost, f.srv.Addr+"/v1/auth/"+testAuthPath+"/login", "", login, &auth); err != nil {
					b.Fatal(err)
				}
				sem := make(chan struct{}, maxParallel)
				var wg sync.WaitGroup
				for p := range reads {
					wg.Go(func() {
						sem <- struct{}{}
						defer func() { <-sem }()
						var out struct {
							Data struct {
								Data map[string]any `json:"data"`
							} `json:"data"`
						}
						url := fmt.Sprintf("%s/v1/secret/data/%s/p%d", f.srv.Addr, u, p)
						if err := floorCall(b.Context(), c, http.MethodGet, url, auth.Auth.ClientToken, nil, &out); err != nil || len(out.Data.Data) != benchKeys {
							b.Errorf("read %s: %d keys, %v", url, len(out.Data.Data), err)
						}
					})
				}
				wg.Wait()
				c.CloseIdleConnections()
			}
		})
	}
}

// floorCall is one Vault request of BenchmarkVaultFloor, decoding the JSON answer into out.
func floorCall(ctx context.Context, c *http.Client, method, url, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
