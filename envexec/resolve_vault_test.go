package envexec

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// Resolution of every reference form against the real Vault of vault_test.go.

// countLogs counts the JSON log lines with msg.
func countLogs(t *testing.T, stderr, msg string) int {
	t.Helper()
	n := 0
	for _, l := range logLines(t, stderr) {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func wantEnv(t *testing.T, env []string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		got, ok := envValue(env, name)
		if !ok || got != w {
			t.Errorf("%s = %q (set %v), want %q", name, truncate(got), ok, truncate(w))
		}
	}
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestVaultInline(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	user, pass, token := "app-"+u, canary(t), canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"user": user, "password": pass, "port": 5432}})
	f.put(t, "kv1/"+u, map[string]any{"token": token})
	env, jwt := f.env(t,
		"DATABASE_URL=postgres://${vault:secret/"+u+"/db#user}:${vault:secret/data/"+u+"/db#password}@db:${vault:secret/"+u+"/db#port}/app",
		"MIXED=${HOME} $${x} ${bao:kv1/"+u+"#token}${vault:kv1/"+u+"#token} ${ vault:not-a-ref}",
		"WHOLE_BAO=bao:kv1/"+u+"#token",
		"LITERAL=${PATH} and vault: in text",
	)
	out := runOK(t, env, pass, token, jwt)
	wantEnv(t, out.env, map[string]string{
		"DATABASE_URL": "postgres://" + user + ":" + pass + "@db:5432/app",
		"MIXED":        "${HOME} $${x} " + token + token + " ${ vault:not-a-ref}",
		"WHOLE_BAO":    token,
		"LITERAL":      "${PATH} and vault: in text",
	})
	if n := countLogs(t, out.stderr, "reading secret"); n != 2 {
		t.Errorf("%d reads, want 2 (one per secret)", n)
	}
}

func TestVaultTransforms(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	pemText := "-----BEGIN PRIVATE KEY-----\n" + canary(t) + "\n-----END PRIVATE KEY-----\n"
	pw := canary(t)
	conf, err := json.Marshal(map[string]any{"db": map[string]any{"hosts": []string{"a", "b"}, "password": pw}, "tls.crt": "x"})
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{
		"tls": base64.StdEncoding.EncodeToString([]byte(pemText)), "conf": string(conf), "user": "app",
		"pass64": base64.StdEncoding.EncodeToString([]byte(pw)),
	}})
	env, jwt := f.env(t,
		"TLS_KEY=vault:secret/"+u+"#tls | b64dec",
		"DB_PASSWORD=vault:secret/"+u+"#conf | json db.password",
		"DB_HOST=host=${vault:secret/"+u+"#conf | json .db.hosts.1}",
		"ODD=vault:secret/"+u+"#conf | json \"tls.crt\" | b64enc",
		"TEMPLATE=vault:secret/"+u+"#${.user}:${.pass64 | b64dec}",
		"INLINE_TEMPLATE=[${vault:secret/"+u+"#${.pass64|b64dec}}]",
	)
	out := runOK(t, env, pw, pemText, jwt)
	wantEnv(t, out.env, map[string]string{
		"TLS_KEY": pemText, "DB_PASSWORD": pw, "DB_HOST": "host=b", "ODD": "eA==",
		"TEMPLATE": "app:" + pw, "INLINE_TEMPLATE": "[" + pw + "]",
	})

	env, jwt = f.env(t, "BAD=vault:secret/"+u+"#user | b64enc | json a")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, pw, jwt)
	if bad.code != ExitSecret || !strings.Contains(bad.stderr, "transform json: the value is not valid JSON") ||
		!strings.Contains(bad.stderr, "variable BAD") {
		t.Errorf("failed transform: exit %d, stderr %s", bad.code, bad.stderr)
	}
}

// Every variable using the same pki issue (same path, same body however spaced) gets
// parts of one certificate: one write.
func TestVaultWriteOnce(t *testing.T) {
	t.Parallel()
	f := vault(t)
	write := `>>vault:pki/issue/web#%s#{"common_name":"web.shop.svc","ttl":"10m"}`
	spaced := `>>vault:pki/issue/web#%s#{ "common_name": "web.shop.svc", "ttl": "10m" }`
	env, jwt := f.env(t,
		"TLS_CERT="+strings.Replace(write, "%s", "certificate", 1),
		"TLS_KEY="+strings.Replace(spaced, "%s", "private_key", 1),
		"BUNDLE=key=${"+strings.Replace(write, "%s", "private_key", 1)+"};serial=${"+strings.Replace(write, "%s", "serial_number", 1)+"}",
	)
	out := runOK(t, env, jwt)
	if n := countLogs(t, out.stderr, "writing secret"); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
	certPEM, _ := envValue(out.env, "TLS_CERT")
	keyPEM, _ := envValue(out.env, "TLS_KEY")
	assertNoLeak(t, out.stderr, keyPEM)
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatalf("TLS_CERT is not PEM: %q", truncate(certPEM))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kblock, _ := pem.Decode([]byte(keyPEM))
	if kblock == nil {
		t.Fatal("TLS_KEY is not PEM")
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) || cert.Subject.CommonName != "web.shop.svc" {
		t.Errorf("key and certificate do not match (CN %q)", cert.Subject.CommonName)
	}
	bundle, _ := envValue(out.env, "BUNDLE")
	if !strings.HasPrefix(bundle, "key="+keyPEM+";serial=") || !strings.Contains(bundle, ";serial=") {
		t.Errorf("BUNDLE does not hold the same key: %q", truncate(bundle))
	}
}

func TestVaultLogin(t *testing.T) {
	t.Parallel()
	f := vault(t)
	env, jwt := f.env(t, settings.EnvAllowLogin+"=true", "VAULT_TOKEN=vault:login", "AUTH=Bearer ${vault:login}")
	out := runOK(t, env, jwt)
	token, _ := envValue(out.env, "VAULT_TOKEN")
	assertNoLeak(t, out.stderr, token)
	if auth, _ := envValue(out.env, "AUTH"); auth != "Bearer "+token || !strings.HasPrefix(token, "hvs.") {
		t.Fatalf("AUTH = %q, token prefix %q", truncate(auth), token[:min(4, len(token))])
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.Addr+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the application's token does not work: %s", resp.Status)
	}

	env, jwt = f.env(t, "VAULT_TOKEN=vault:login")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, jwt)
	if bad.code != ExitSettings || !strings.Contains(bad.stderr, "variable VAULT_TOKEN") || !strings.Contains(bad.stderr, settings.EnvAllowLogin) {
		t.Errorf("login not allowed: exit %d, stderr %s", bad.code, bad.stderr)
	}
}

// vault:login is not the only way to the token: a plain read of auth/token/lookup-self
// answers with it (data.id), and Vault's default policy allows that read. Without
// ENVEXEC_ALLOW_LOGIN, an answer holding the token is refused like vault:login, naming the
// variables, the argument and the file, whatever transform (b64enc) would have hidden it;
// with it, the read works as any other.
func TestVaultLookupSelfNeedsAllowLogin(t *testing.T) {
	t.Parallel()
	f := vault(t)
	dir, files := filesEnv(t, settings.FileSpec{Path: "tok", Content: "t=${vault:auth/token/lookup-self#id}"})
	env, jwt := f.env(t, append(files, "TOKEN=vault:auth/token/lookup-self#id", "B64=x${vault:auth/token/lookup-self#id | b64enc}")...)
	bad := runEnvexec(t.Context(), t, []string{"--", "/bin/echo", "${vault:auth/token/lookup-self#id}"}, env)
	assertNoLeak(t, bad.stderr, jwt, "hvs.")
	if bad.code != ExitSettings || bad.execed {
		t.Fatalf("exit %d (execed %v), want %d before the application; stderr %s", bad.code, bad.execed, ExitSettings, bad.stderr)
	}
	if _, err := os.Stat(dir + "/tok"); !os.IsNotExist(err) {
		t.Errorf("the file holding the token was written: %v", err)
	}
	for _, want := range []string{"TOKEN", "B64", "argv[1]", dir + "/tok", "envexec's own Vault token", settings.EnvAllowLogin} {
		if !strings.Contains(bad.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, bad.stderr)
		}
	}

	env, jwt = f.env(t, settings.EnvAllowLogin+"=true", "TOKEN=vault:auth/token/lookup-self#id")
	out := runOK(t, env, jwt)
	if token, _ := envValue(out.env, "TOKEN"); !strings.HasPrefix(token, "hvs.") {
		t.Errorf("with %s=true, TOKEN has no token (prefix %q)", settings.EnvAllowLogin, token[:min(4, len(token))])
	}
}

func (f *fixture) encrypt(t *testing.T, plaintext string) string {
	t.Helper()
	out := f.srv.Do(t, "POST", "transit/encrypt/app", map[string]string{"plaintext": base64.StdEncoding.EncodeToString([]byte(plaintext))})
	return out["data"].(map[string]any)["ciphertext"].(string)
}

func TestVaultTransit(t *testing.T) {
	t.Parallel()
	f := vault(t)
	a, b := canary(t)+"\nline 2 $HOME #x", canary(t)
	ctA, ctB := f.encrypt(t, a), f.encrypt(t, b)
	env, jwt := f.env(t, settings.EnvTransitKey+"=app",
		"A="+ctA, "A_AGAIN="+ctA, "B=pw=${"+ctB+"}", "B64=${"+ctB+" | b64enc}")
	out := runOK(t, env, a, b, jwt)
	wantEnv(t, out.env, map[string]string{"A": a, "A_AGAIN": a, "B": "pw=" + b, "B64": base64.StdEncoding.EncodeToString([]byte(b))})
	if n := countLogs(t, out.stderr, "decrypting with transit"); n != 1 {
		t.Errorf("%d transit requests, want one batch", n)
	}

	env, jwt = f.env(t, settings.EnvTransitKey+"=app", "A="+ctA, "BROKEN=vault:v1:AAAA")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, a, jwt)
	if bad.code != ExitSecret || !strings.Contains(bad.stderr, "variable BROKEN") || strings.Contains(bad.stderr, "variable A:") {
		t.Errorf("bad ciphertext: exit %d, stderr %s", bad.code, bad.stderr)
	}
}

// Values are bytes-as-text: whatever Vault holds reaches the application unchanged, and
// text in a secret that looks like a reference is not resolved again.
func TestVaultArbitraryValues(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	big := strings.Repeat("0123456789abcdef€#$'\"\n\\${vault:x#y}", 1<<20/36+1)[:1<<20]
	values := map[string]string{
		"pem":     "-----BEGIN CERTIFICATE-----\nMIIB\n+/=\n-----END CERTIFICATE-----\n",
		"hash":    "a#b#c",
		"dollar":  "$HOME $(x) ${y} $$ $",
		"quotes":  `'single' "double" ` + "`back`",
		"unicode": "пароль 密码 🔑 \u200b",
		"lookref": "vault:secret/data/x#y",
		"inline":  "${vault:secret/data/x#y}",
		"spaces":  "  leading and trailing  \t",
		"empty":   "",
	}
	// Vault refuses a JSON string of 1 MiB, so the 1 MiB value is two halves joined by
	// a key template.
	data := map[string]any{"big1": big[:len(big)/2], "big2": big[len(big)/2:]}
	for k, v := range values {
		data[k] = v
	}
	f.put(t, "secret/data/"+u, map[string]any{"data": data})
	var extra []string
	want := map[string]string{}
	for k, v := range values {
		name := strings.ToUpper(k)
		extra = append(extra, name+"=vault:secret/"+u+"#"+k, "IN_"+name+"=<${vault:secret/"+u+"#"+k+"}>")
		want[name], want["IN_"+name] = v, "<"+v+">"
	}
	extra = append(extra, "BIG=vault:secret/"+u+"#${.big1}${.big2}", "IN_BIG=<${vault:secret/"+u+"#${.big1}${.big2}}>")
	want["BIG"], want["IN_BIG"] = big, "<"+big+">"
	env, jwt := f.env(t, extra...)
	out := runOK(t, env, jwt, values["unicode"], values["pem"])
	wantEnv(t, out.env, want)
	if len(out.stderr) > 64<<10 {
		t.Errorf("stderr is %d bytes: values are being logged", len(out.stderr))
	}
}

func TestVaultIgnoreMissing(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	v := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": v}})
	refs := []string{
		"OK=vault:secret/" + u + "#k",
		"NO_KEY=vault:secret/" + u + "#nope",
		"NO_SECRET=x ${vault:secret/" + u + "-nope#k}",
		"NO_VERSION=vault:secret/" + u + "#k#9",
	}
	env, jwt := f.env(t, append(refs, settings.EnvIgnoreMissing+"=true")...)
	out := runOK(t, env, v, jwt)
	wantEnv(t, out.env, map[string]string{"OK": v})
	for _, name := range []string{"NO_KEY", "NO_SECRET", "NO_VERSION"} {
		if _, ok := envValue(out.env, name); ok {
			t.Errorf("%s is set, want it left unset", name)
		}
	}
	warned := map[string]bool{}
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "secret missing, variable left unset" && l["level"] == "WARN" {
			warned[l["variable"].(string)] = true
		}
	}
	if len(warned) != 3 {
		t.Errorf("warnings for %v, want NO_KEY, NO_SECRET and NO_VERSION", warned)
	}

	env, jwt = f.env(t, refs...)
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, v, jwt)
	if bad.code != ExitSecret || bad.execed {
		t.Fatalf("without ignore-missing: exit %d, stderr %s", bad.code, bad.stderr)
	}
	for _, name := range []string{"NO_KEY", "NO_SECRET", "NO_VERSION"} {
		if !strings.Contains(bad.stderr, "variable "+name) {
			t.Errorf("stderr does not name %s: %s", name, bad.stderr)
		}
	}
	// A denied read is not "missing": it fails even with ignore-missing.
	f.put(t, "secret/data/forbidden/"+u, map[string]any{"data": map[string]any{"k": v}})
	env, _ = f.env(t, settings.EnvIgnoreMissing+"=true", "DENIED=vault:secret/forbidden/"+u+"#k")
	if bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env); bad.code != ExitSecret {
		t.Errorf("denied read with ignore-missing: exit %d, want %d", bad.code, ExitSecret)
	}
}

func TestVaultNULRejected(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"bin": base64.StdEncoding.EncodeToString([]byte("a\x00b"))}})
	env, _ := f.env(t, "BIN=vault:secret/"+u+"#bin | b64dec")
	out := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	if out.code != ExitSecret || !strings.Contains(out.stderr, "NUL byte") || !strings.Contains(out.stderr, "variable BIN") {
		t.Errorf("exit %d, stderr %s", out.code, out.stderr)
	}
}
