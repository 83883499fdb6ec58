package envexec

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// TestNoValuesInLogs runs every kind of reference, in variables and arguments, at debug
// level, in both log formats, successfully and failing, and checks that no value,
// credential or token reaches stderr.
func TestNoValuesInLogs(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	pw, b64, inner, fromPath, transit := canary(t), canary(t), canary(t), canary(t), canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{
		"pw": pw, "b64": base64.StdEncoding.EncodeToString([]byte(b64)), "conf": `{"inner":"` + inner + `"}`,
	}})
	f.put(t, "kv1/"+u, map[string]any{"FROM_PATH_VAR": fromPath})
	ct := f.encrypt(t, transit)
	refs := []string{
		settings.EnvAllowLogin + "=true", settings.EnvTransitKey + "=app", settings.EnvFromPath + "=kv1/" + u, settings.EnvIgnoreMissing + "=true",
		"PW=vault:secret/" + u + "#pw",
		"URL=x://u:${vault:secret/" + u + "#pw}@h",
		"B64=vault:secret/" + u + "#b64 | b64dec",
		"INNER=vault:secret/" + u + "#conf | json inner",
		"CERT=>>vault:pki/issue/web#private_key#{\"common_name\":\"a.svc\"}",
		"TOKEN=vault:login",
		"CT=" + ct,
		"MISSING=vault:secret/" + u + "#nope",
	}
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			env, jwt := f.env(t, append(refs, settings.EnvLogFormat+"="+format)...)
			args := []string{"--", "true", "--pw=${vault:secret/" + u + "#pw}", "vault:secret/" + u + "#conf | json inner", "${vault:login}"}
			out := runEnvexec(t.Context(), t, args, env)
			if out.code != ExitOK {
				t.Fatalf("exit %d: %s", out.code, out.stderr)
			}
			token, _ := envValue(out.env, "TOKEN")
			key, _ := envValue(out.env, "CERT")
			secrets := []string{pw, b64, inner, fromPath, transit, jwt, token, key, strings.Split(key, "\n")[1]}
			assertNoLeak(t, out.stderr, secrets...)
			for _, want := range []string{
				"reading secret", "writing secret", "decrypting with transit", "logged in",
				"secret missing, variable left unset", "starting application",
			} {
				if !strings.Contains(out.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
				}
			}
			if format == "text" && strings.HasPrefix(out.stderr, "{") {
				t.Errorf("text format wrote JSON:\n%s", out.stderr)
			}

			// The same references failing: errors name variables and paths, not values.
			env, _ = f.env(t, settings.EnvLogFormat+"="+format, settings.EnvAllowLogin+"=true", "PW=vault:secret/"+u+"#pw",
				"BAD=vault:secret/"+u+"#conf | b64dec", "BAD2=vault:secret/"+u+"#pw | json x", "TOKEN=vault:login")
			bad := runEnvexec(t.Context(), t, []string{"--", "true", "--pw=${vault:secret/" + u + "#pw}", "vault:secret/" + u + "#pw | json y"}, env)
			if bad.code != ExitSecret {
				t.Fatalf("exit %d: %s", bad.code, bad.stderr)
			}
			assertNoLeak(t, bad.stderr, secrets...)
		})
	}
}
