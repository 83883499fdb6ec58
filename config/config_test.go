package config_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parse(t testing.TB, args []string, env map[string]string) (config.Webhook, error) {
	t.Helper()
	fs := flag.NewFlagSet("vault-injector", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	return config.ParseWebhook(fs, args, envOf(env))
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; run go test ./config -update):\n%s", path, d)
	}
}

func TestWebhookDefaults(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "defaults.json"), append(got, '\n'))
}

func TestWebhookPrecedence(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"default":       {nil, nil, "https://vault.vault.svc:8200"},
		"env":           {nil, map[string]string{"VAULT_INJECTOR_VAULT_ADDR": "http://env:8200"}, "http://env:8200"},
		"flag":          {[]string{"--vault-addr=http://flag:8200"}, nil, "http://flag:8200"},
		"flag over env": {[]string{"--vault-addr", "http://flag:8200"}, map[string]string{"VAULT_INJECTOR_VAULT_ADDR": "http://env:8200"}, "http://flag:8200"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, err := parse(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if w.Defaults.VaultAddr != tc.want {
				t.Errorf("VaultAddr = %q, want %q", w.Defaults.VaultAddr, tc.want)
			}
		})
	}
}

// TestMemoryLimit reads the downward API's bare byte count and a quantity alike; unset is
// none.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int64{"268435456": 256 << 20, "256Mi": 256 << 20, "": 0} {
		w, err := parse(t, nil, map[string]string{"VAULT_INJECTOR_MEMORY_LIMIT": v})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := w.MemoryLimit.Value(); got != want {
			t.Errorf("%q: %d bytes, want %d", v, got, want)
		}
	}
}

func TestWebhookErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad port flag":      {[]string{"--webhook-port=0"}, nil, "not a port"},
		"bad port env":       {nil, map[string]string{"VAULT_INJECTOR_WEBHOOK_PORT": "http"}, "webhook-port (from VAULT_INJECTOR_WEBHOOK_PORT)"},
		"relative envexec":   {[]string{"--envexec-path=bin/envexec"}, nil, "clean absolute path"},
		"vault addr scheme":  {[]string{"--vault-addr=vault:8200"}, nil, "http(s) URL"},
		"vault addr creds":   {[]string{"--vault-addr=https://u:p@vault"}, nil, "credentials"},
		"auth path":          {[]string{"--vault-auth-path=/kubernetes"}, nil, "mount path"},
		"zero timeout":       {[]string{"--envexec-timeout=0s"}, nil, "duration between"},
		"huge timeout":       {[]string{"--envexec-timeout=1h"}, nil, "duration between"},
		"log level":          {[]string{"--envexec-log-level=trace"}, nil, "not a log level"},
		"empty image":        {[]string{"--injector-image="}, nil, "must not be empty"},
		"unknown flag":       {[]string{"--nope"}, nil, "not defined"},
		"platform":           {[]string{"--default-platform=amd64"}, nil, "not a platform"},
		"pull secret":        {[]string{"--default-pull-secret=just-a-name"}, nil, "namespace/name"},
		"registry timeout":   {[]string{"--registry-timeout=1m"}, nil, "duration between 0s and 30s"},
		"cache size":         {[]string{"--image-cache-size=0"}, nil, "positive integer"},
		"cert mode":          {[]string{"--cert-mode=auto"}, nil, "not a certificate mode"},
		"token audience":     {[]string{"--allowed-token-audiences=vault,my audience"}, nil, `"my audience" is not a token audience (1-253 characters, no spaces or commas)`},
		"malformed policy":   {[]string{"--malformed-references=ignore"}, nil, "not deny or warn"},
		"self-managed alone": {[]string{"--cert-mode=self-managed"}, nil, "needs --cert-secret"},
		"self-managed namespace": {
			[]string{"--cert-mode=self-managed", "--cert-secret=s", "--webhook-config-name=w", "--service-name=svc"},
			nil,
			"needs --namespace (env VAULT_INJECTOR_NAMESPACE)",
		},
		"cert longer than ca": {
			[]string{"--cert-mode=self-managed", "--cert-secret=s", "--webhook-config-name=w", "--service-name=svc", "--namespace=ns", "--cert-validity=9000h", "--ca-validity=8000h"},
			nil,
			"must not be longer",
		},
		"default pull secret without registries": {
			[]string{"--default-pull-secret=infra/pull"},
			nil,
			"--default-pull-secret needs --default-pull-secret-registries: the registries its credentials may be sent to",
		},
		"private registry with scheme": {[]string{"--private-registries=https://registry.corp"}, nil, `"https://registry.corp" is not a registry host`},
		"private registry with path":   {[]string{"--private-registries=registry.corp/team"}, nil, "not a registry host"},
		"pull secret registry port only": {
			[]string{"--default-pull-secret=infra/pull", "--default-pull-secret-registries=:5000"}, nil, `":5000" is not a registry host`,
		},
		"init cpu not a quantity":  {[]string{"--init-cpu-request=ten"}, nil, `"ten" is not a resource quantity`},
		"init memory empty":        {[]string{"--init-memory-limit="}, nil, `"" is not a resource quantity`},
		"init negative":            {[]string{"--init-memory-request=-1Mi"}, nil, `"-1Mi" is not above zero`},
		"memory limit negative":    {nil, map[string]string{"VAULT_INJECTOR_MEMORY_LIMIT": "-5"}, `"-5" is not above zero`},
		"memory limit not a size":  {[]string{"--memory-limit=lots"}, nil, `"lots" is not a resource quantity`},
		"init max not a quantity":  {[]string{"--init-max-cpu=big"}, nil, `"big" is not a resource quantity`},
		"init user root":           {[]string{"--init-run-as-user=0"}, nil, `"0" is not "unset" or an ID between 1 and 2147483647`},
		"init user word":           {[]string{"--init-run-as-user=nobody"}, nil, `"nobody" is not "unset" or an ID`},
		"init group too big":       {[]string{"--init-run-as-group=4294967296"}, nil, `between 0 and 2147483647`},
		"init request above limit": {[]string{"--init-memory-request=128Mi"}, nil, "--init-memory-request (128Mi) must not be above --init-memory-limit (64Mi)"},
		"init cpu request above limit": {
			[]string{"--init-cpu-request=100m", "--init-cpu-limit=50m"}, nil, "--init-cpu-request (100m) must not be above --init-cpu-limit (50m)",
		},
		"init default above max": {[]string{"--init-memory-limit=1Gi"}, nil, "--init-memory-limit (1Gi) must not be above --init-max-memory (256Mi)"},
		"init cpu limit above max": {
			[]string{"--init-cpu-limit=1", "--init-max-cpu=500m"}, nil, "--init-cpu-limit (1) must not be above --init-max-cpu (500m)",
		},
		"positional":         {[]string{"extra"}, nil, "unexpected arguments"},
		"two bad env values": {nil, map[string]string{"VAULT_INJECTOR_WEBHOOK_PORT": "x", "VAULT_INJECTOR_ENVEXEC_TIMEOUT": "y"}, "envexec-timeout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWebhookLists(t *testing.T) {
	t.Parallel()
	w, err := parse(t, []string{
		"--insecure-registries= a:5000, ,b ", "--default-pull-secret=infra/pull", "--default-pull-secret-registries=registry.corp, ghcr.io",
		"--private-registries=registry.corp:5000,[fd00::1]:5000", "--client-ca-file=/etc/ca/ca.crt",
		"--allowed-token-audiences=jwt-vault, https://vault.example/",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"jwt-vault", "https://vault.example/"}, w.AllowedTokenAudiences); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"a:5000", "b"}, w.Registry.Insecure); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"registry.corp", "ghcr.io"}, w.Registry.DefaultPullSecretRegistries); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"registry.corp:5000", "[fd00::1]:5000"}, w.Registry.Private); d != "" {
		t.Error(d)
	}
	if w.ClientCAFile != "/etc/ca/ca.crt" {
		t.Errorf("ClientCAFile = %q", w.ClientCAFile)
	}
	if w.Registry.DefaultPullSecret != "infra/pull" {
		t.Errorf("DefaultPullSecret = %q", w.Registry.DefaultPullSecret)
	}
}

func TestWebhookHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fs := flag.NewFlagSet("vault-injector", flag.ContinueOnError)
	fs.SetOutput(&out)
	_, err := config.ParseWebhook(fs, []string{"--help"}, noEnv)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-vault-addr", "VAULT_INJECTOR_VAULT_ADDR", "-envexec-timeout", "(default 60s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestInitUser: "unset" and empty leave the init container's user and group to the
// platform; numbers are kept as IDs.
func TestInitUser(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args        []string
		user, group *int64
	}{
		"default": {nil, ptr.To[int64](65532), ptr.To[int64](65532)},
		"unset":   {[]string{"--init-run-as-user=unset", "--init-run-as-group=unset"}, nil, nil},
		"empty":   {[]string{"--init-run-as-user=", "--init-run-as-group="}, nil, nil},
		"ids":     {[]string{"--init-run-as-user=1000", "--init-run-as-group=0"}, ptr.To[int64](1000), ptr.To[int64](0)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, err := parse(t, tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]*int64{tc.user, tc.group}, []*int64{w.Defaults.Init.RunAsUser, w.Defaults.Init.RunAsGroup}); d != "" {
				t.Errorf("user, group (-want +got):\n%s", d)
			}
		})
	}
}

func TestParsePod(t *testing.T) {
	t.Parallel()
	w, err := parse(t, []string{"--allowed-vault-addrs=http://v:8200,https://vault.team-b:8200", "--allowed-token-audiences=jwt-vault, https://vault.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := config.Pod{
		Inject: true, InjectorImage: w.InjectorImage, EnvexecPath: w.EnvexecPath,
		VaultAddr: w.Defaults.VaultAddr, Role: "app", AuthPath: "kubernetes",
		Timeout: time.Minute, LogLevel: config.LogInfo, TokenAudience: "vault", TokenExpiration: 10 * time.Minute,
		Init: w.Defaults.Init, WatchInterval: 5 * time.Minute,
	}
	with := func(f func(p *config.Pod)) config.Pod { p := base; f(&p); return p }
	cases := map[string]struct {
		ann      map[string]string
		sa       string
		want     config.Pod
		warnings []string
	}{
		"no annotations":          {sa: "app", want: base},
		"default service account": {want: with(func(p *config.Pod) { p.Role = "default" })},
		"opt out":                 {ann: map[string]string{"vault-injector.io/inject": "false"}, sa: "app", want: with(func(p *config.Pod) { p.Inject = false })},
		"all set": {ann: map[string]string{
			"vault-injector.io/inject": "true", "vault-injector.io/vault-addr": "http://v:8200",
			"vault-injector.io/role": "db-reader", "vault-injector.io/auth-path": "k8s/prod",
			"vault-injector.io/timeout": "15s", "vault-injector.io/log-level": "debug",
		}, sa: "app", want: with(func(p *config.Pod) {
			p.VaultAddr, p.Role, p.AuthPath, p.Timeout, p.LogLevel = "http://v:8200", "db-reader", "k8s/prod", 15*time.Second, config.LogDebug
		})},
		"other prefixes ignored": {ann: map[string]string{"example.com/inject": "maybe", "vault-injector.io/status": "injected"}, sa: "app", want: base},
		"allowed vault addr": {
			ann: map[string]string{"vault-injector.io/vault-addr": "https://vault.team-b:8200/"}, sa: "app",
			want: with(func(p *config.Pod) { p.VaultAddr = "https://vault.team-b:8200/" }),
		},
		"bank-vaults aliases": {
			ann: map[string]string{
				"vault.security.banzaicloud.io/vault-role": "bv-role", "vault.security.banzaicloud.io/vault-path": "k8s-bv",
				"vault.security.banzaicloud.io/vault-addr": "https://vault.team-b:8200",
			}, sa: "app",
			want: with(func(p *config.Pod) {
				p.Role, p.AuthPath, p.VaultAddr = "bv-role", "k8s-bv", "https://vault.team-b:8200"
			}),
		},
		"ours win over bank-vaults": {
			ann: map[string]string{"vault.security.banzaicloud.io/vault-role": "bv-role", "vault-injector.io/role": "ours"}, sa: "app",
			want: with(func(p *config.Pod) { p.Role = "ours" }),
		},
		"bank-vaults mutate skip": {
			ann: map[string]string{"vault.security.banzaicloud.io/mutate": "skip"}, sa: "app",
			want: with(func(p *config.Pod) { p.Inject = false }),
		},
		"envexec settings": {
			ann: map[string]string{
				"vault-injector.io/ignore-missing": "true", "vault-injector.io/from-path": "secret/data/a,secret/data/b#3",
				"vault.security.banzaicloud.io/vault-env-daemon": "true", "vault-injector.io/daemon-signal": "SIGHUP",
				"vault-injector.io/auth-method": "jwt", "vault-injector.io/tls-skip-verify": "false",
			}, sa: "app",
			want: with(func(p *config.Pod) {
				p.Envexec = map[string]string{
					"ENVEXEC_IGNORE_MISSING": "true", "ENVEXEC_FROM_PATH": "secret/data/a,secret/data/b#3", "ENVEXEC_DAEMON": "true",
					"ENVEXEC_DAEMON_SIGNAL": "SIGHUP", "ENVEXEC_AUTH_METHOD": "jwt", "ENVEXEC_TLS_SKIP_VERIFY": "false",
				}
			}),
		},
		"tls secret": {
			ann: map[string]string{"vault-injector.io/tls-secret": "vault-ca.v2"}, sa: "app",
			want: with(func(p *config.Pod) { p.TLSSecret = "vault-ca.v2" }),
		},
		"approle": {
			ann: map[string]string{"vault-injector.io/auth-method": "approle", "vault-injector.io/approle-secret": "app-approle"}, sa: "app",
			want: with(func(p *config.Pod) {
				p.AppRoleSecret, p.AuthPath, p.Envexec = "app-approle", "approle", map[string]string{"ENVEXEC_AUTH_METHOD": "approle"}
			}),
		},
		"approle, bank-vaults auth method, own auth path": {
			ann: map[string]string{"vault.security.banzaicloud.io/vault-auth-method": "approle", "vault-injector.io/approle-secret": "app-approle", "vault-injector.io/auth-path": "approle-prod"}, sa: "app",
			want: with(func(p *config.Pod) {
				p.AppRoleSecret, p.AuthPath, p.Envexec = "app-approle", "approle-prod", map[string]string{"ENVEXEC_AUTH_METHOD": "approle"}
			}),
		},
		"vault token": {
			ann: map[string]string{"vault-injector.io/auth-method": "token", "vault-injector.io/token-secret": "app-token"}, sa: "app",
			want: with(func(p *config.Pod) {
				p.TokenSecret, p.Envexec = "app-token", map[string]string{"ENVEXEC_AUTH_METHOD": "token"}
			}),
		},
		"jwt with an allowed audience": {
			ann: map[string]string{"vault-injector.io/auth-method": "jwt", "vault-injector.io/token-audience": "https://vault.example"}, sa: "app",
			want: with(func(p *config.Pod) {
				p.TokenAudience, p.Envexec = "https://vault.example", map[string]string{"ENVEXEC_AUTH_METHOD": "jwt"}
			}),
		},
		"kubernetes with the default audience named": {
			ann: map[string]string{"vault-injector.io/token-audience": "vault"}, sa: "app", want: base,
		},
		"tls secret, bank-vaults alias": {
			ann: map[string]string{"vault.security.banzaicloud.io/vault-tls-secret": "vault-tls"}, sa: "app",
			want: with(func(p *config.Pod) { p.TLSSecret = "vault-tls" }),
		},
		"init resources within the maxima": {
			ann: map[string]string{
				"vault-injector.io/init-cpu-request": "100m", "vault-injector.io/init-cpu-limit": "0.5",
				"vault-injector.io/init-memory-request": "128Mi", "vault-injector.io/init-memory-limit": "256Mi",
			}, sa: "app",
			want: with(func(p *config.Pod) {
				p.Init.CPURequest, p.Init.CPULimit = resource.MustParse("100m"), resource.MustParse("500m")
				p.Init.MemoryRequest, p.Init.MemoryLimit = resource.MustParse("128Mi"), resource.MustParse("256Mi")
			}),
		},
		"unsupported bank-vaults annotation warns": {
			ann: map[string]string{"vault.security.banzaicloud.io/vault-agent": "true"}, sa: "app", want: base,
			warnings: []string{`annotation "vault.security.banzaicloud.io/vault-agent" is not supported by vault-injector and was ignored`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, warnings, err := config.ParsePod(tc.ann, tc.sa, w)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.warnings, warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

func TestParsePodErrors(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		ann  map[string]string
		want []string
	}{
		"inject not bool":              {map[string]string{"vault-injector.io/inject": "yes"}, []string{`"vault-injector.io/inject"`, `"yes" is not "true" or "false"`}},
		"inject upper case":            {map[string]string{"vault-injector.io/inject": "False"}, []string{`"False"`}},
		"vault addr":                   {map[string]string{"vault-injector.io/vault-addr": "ftp://x"}, []string{"vault-addr", "http(s) URL"}},
		"role chars":                   {map[string]string{"vault-injector.io/role": "a b"}, []string{"role", "not a Vault role"}},
		"empty role":                   {map[string]string{"vault-injector.io/role": ""}, []string{"role"}},
		"auth path":                    {map[string]string{"vault-injector.io/auth-path": "../sys"}, []string{"auth-path"}},
		"timeout":                      {map[string]string{"vault-injector.io/timeout": "soon"}, []string{"timeout", `"soon"`}},
		"unknown":                      {map[string]string{"vault-injector.io/rol": "x"}, []string{`"vault-injector.io/rol" is not known`, "known: inject"}},
		"vault addr not allowed":       {map[string]string{"vault-injector.io/vault-addr": "http://169.254.169.254"}, []string{"vault-addr", "not in the webhook's --allowed-vault-addrs"}},
		"bank-vaults addr not allowed": {map[string]string{"vault.security.banzaicloud.io/vault-addr": "https://evil:8200"}, []string{`"vault.security.banzaicloud.io/vault-addr"`, "allowed-vault-addrs"}},
		"from-path malformed":          {map[string]string{"vault-injector.io/from-path": "secret/data/a#latest"}, []string{"from-path"}},
		"daemon signal unknown":        {map[string]string{"vault-injector.io/daemon-signal": "SIGFOO"}, []string{"daemon-signal"}},
		"auth method unknown":          {map[string]string{"vault-injector.io/auth-method": "aws-ec2"}, []string{`annotation "vault-injector.io/auth-method": "aws-ec2" is not an auth method a pod can use (kubernetes, jwt, approle, token)`}},
		"approle without its secret": {
			map[string]string{"vault-injector.io/auth-method": "approle"},
			[]string{`annotation "vault-injector.io/auth-method": "approle" needs vault-injector.io/approle-secret, naming a Secret of the pod's namespace with role_id (and secret_id)`},
		},
		"bank-vaults approle without its secret": {
			map[string]string{"vault.security.banzaicloud.io/vault-auth-method": "approle"},
			[]string{`annotation "vault.security.banzaicloud.io/vault-auth-method": "approle" needs vault-injector.io/approle-secret`},
		},
		"token without its secret": {
			map[string]string{"vault-injector.io/auth-method": "token"},
			[]string{`annotation "vault-injector.io/auth-method": "token" needs vault-injector.io/token-secret, naming a Secret of the pod's namespace with token`},
		},
		"approle secret without approle": {
			map[string]string{"vault-injector.io/approle-secret": "app-approle"},
			[]string{`annotation "vault-injector.io/approle-secret" applies only with vault-injector.io/auth-method "approle" (the pod logs in with "kubernetes")`},
		},
		"token secret with approle": {
			map[string]string{"vault-injector.io/auth-method": "approle", "vault-injector.io/approle-secret": "a", "vault-injector.io/token-secret": "t"},
			[]string{`annotation "vault-injector.io/token-secret" applies only with vault-injector.io/auth-method "token" (the pod logs in with "approle")`},
		},
		"role with approle": {
			map[string]string{"vault-injector.io/auth-method": "approle", "vault-injector.io/approle-secret": "a", "vault.security.banzaicloud.io/vault-role": "r"},
			[]string{`annotation "vault.security.banzaicloud.io/vault-role" applies only to the kubernetes and jwt auth methods (the pod logs in with "approle")`},
		},
		"audience with token": {
			map[string]string{"vault-injector.io/auth-method": "token", "vault-injector.io/token-secret": "t", "vault-injector.io/token-audience": "vault"},
			[]string{`annotation "vault-injector.io/token-audience" applies only to the kubernetes and jwt auth methods (the pod logs in with "token")`},
		},
		"auth path with token": {
			map[string]string{"vault-injector.io/auth-method": "token", "vault-injector.io/token-secret": "t", "vault-injector.io/auth-path": "token"},
			[]string{`annotation "vault-injector.io/auth-path": a Vault token needs no login, so no auth path`},
		},
		"approle secret not a name": {
			map[string]string{"vault-injector.io/auth-method": "approle", "vault-injector.io/approle-secret": "../other"},
			[]string{`annotation "vault-injector.io/approle-secret": "../other" is not a Secret name`},
		},
		"token secret not a name": {
			map[string]string{"vault-injector.io/auth-method": "token", "vault-injector.io/token-secret": "other/ns"},
			[]string{`annotation "vault-injector.io/token-secret": "other/ns" is not a Secret name`},
		},
		"audience not allowed": {
			map[string]string{"vault-injector.io/auth-method": "jwt", "vault-injector.io/token-audience": "https://kubernetes.default.svc"},
			[]string{`annotation "vault-injector.io/token-audience": "https://kubernetes.default.svc" is not the webhook's --token-audience nor in its --allowed-token-audiences`},
		},
		"audience empty": {
			map[string]string{"vault-injector.io/token-audience": ""},
			[]string{`annotation "vault-injector.io/token-audience": "" is not the webhook's --token-audience`},
		},
		"tls skip not allowed":     {map[string]string{"vault.security.banzaicloud.io/vault-skip-verify": "true"}, []string{"vault-skip-verify", "--allow-tls-skip-verify"}},
		"ignore missing yes":       {map[string]string{"vault-injector.io/ignore-missing": "yes"}, []string{"ignore-missing"}},
		"bank-vaults mutate other": {map[string]string{"vault.security.banzaicloud.io/mutate": "yes"}, []string{`"vault.security.banzaicloud.io/mutate"`, `only "skip"`}},
		"tls secret not a name":    {map[string]string{"vault-injector.io/tls-secret": "Vault_CA"}, []string{`annotation "vault-injector.io/tls-secret": "Vault_CA" is not a Secret name (a lower-case DNS subdomain of at most 253 characters)`}},
		"tls secret empty":         {map[string]string{"vault-injector.io/tls-secret": ""}, []string{`"vault-injector.io/tls-secret": "" is not a Secret name`}},
		"tls secret dots":          {map[string]string{"vault-injector.io/tls-secret": "a..b"}, []string{`"a..b" is not a Secret name`}},
		"tls secret path":          {map[string]string{"vault.security.banzaicloud.io/vault-tls-secret": "../other"}, []string{`annotation "vault.security.banzaicloud.io/vault-tls-secret": "../other" is not a Secret name`}},
		"init cpu above max": {
			map[string]string{"vault-injector.io/init-cpu-request": "2"},
			[]string{`annotation "vault-injector.io/init-cpu-request": "2" is above the platform's maximum 500m for the CPU request (--init-max-cpu)`},
		},
		"init memory limit above max": {
			map[string]string{"vault-injector.io/init-memory-limit": "1Gi"},
			[]string{`annotation "vault-injector.io/init-memory-limit": "1Gi" is above the platform's maximum 256Mi for the memory limit (--init-max-memory)`},
		},
		"init request above default limit": {
			map[string]string{"vault-injector.io/init-memory-request": "128Mi"},
			[]string{`annotation "vault-injector.io/init-memory-request": the memory request 128Mi would be above the limit 64Mi; set vault-injector.io/init-memory-request and vault-injector.io/init-memory-limit together`},
		},
		"init limit below default request": {
			map[string]string{"vault-injector.io/init-memory-limit": "8Mi"},
			[]string{`annotation "vault-injector.io/init-memory-limit": the memory request 16Mi would be above the limit 8Mi`},
		},
		"init cpu request above its limit": {
			map[string]string{"vault-injector.io/init-cpu-request": "200m", "vault-injector.io/init-cpu-limit": "100m"},
			[]string{`annotation "vault-injector.io/init-cpu-request": the CPU request 200m would be above the limit 100m`},
		},
		"init not a quantity": {map[string]string{"vault-injector.io/init-cpu-limit": "lots"}, []string{`annotation "vault-injector.io/init-cpu-limit": "lots" is not a resource quantity`}},
		"init zero":           {map[string]string{"vault-injector.io/init-memory-request": "0"}, []string{`annotation "vault-injector.io/init-memory-request": "0" is not above zero`}},
		"init empty":          {map[string]string{"vault-injector.io/init-cpu-limit": ""}, []string{`annotation "vault-injector.io/init-cpu-limit": "" is not a resource quantity`}},
		"all reported":        {map[string]string{"vault-injector.io/inject": "no", "vault-injector.io/timeout": "-1s"}, []string{"inject", "timeout"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := config.ParsePod(tc.ann, "app", w)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestAnnotationsDoc(t *testing.T) {
	t.Parallel()
	golden(t, filepath.Join("..", "docs", "annotations.md"), []byte(config.AnnotationsMarkdown()))
}

// testCAPEM is a self-signed CA certificate in PEM, made for the test.
func testCAPEM(t *testing.T, name string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --vault-ca-file is read at start-up; only its certificates, re-encoded, reach pods, and
// every pod gets them, whatever its annotations.
func TestVaultCAFile(t *testing.T) {
	t.Parallel()
	ca := testCAPEM(t, "platform CA")
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("key-canary")})
	path := writeTemp(t, append(append([]byte("# comment-canary\n"), ca...), key...))
	w, err := parse(t, []string{"--vault-ca-file=" + path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.VaultCA.File() != path || w.VaultCA.Certs() != string(ca) {
		t.Errorf("VaultCA %q, certificates\n%s\nwant the certificate alone:\n%s", w.VaultCA.File(), w.VaultCA.Certs(), ca)
	}
	p, _, err := config.ParsePod(map[string]string{"vault-injector.io/tls-secret": "vault-ca"}, "app", w)
	if err != nil || p.CACerts != string(ca) || p.TLSSecret != "vault-ca" {
		t.Errorf("pod CACerts %q, TLSSecret %q, %v: want the platform's CA and the pod's Secret", p.CACerts, p.TLSSecret, err)
	}
	env, err := parse(t, nil, map[string]string{"VAULT_INJECTOR_VAULT_CA_FILE": path})
	if err != nil || env.VaultCA.Certs() != string(ca) {
		t.Errorf("from the environment: CACerts %q, %v", env.VaultCA.Certs(), err)
	}
}

// A bundle that changes on disk (a ConfigMap or Secret the kubelet updates) reaches the
// next pod after Reload, also through a copy of the configuration made before; a bundle
// that turns invalid is refused and the last good one stays.
func TestVaultCAReload(t *testing.T) {
	t.Parallel()
	first, second := testCAPEM(t, "platform CA 1"), testCAPEM(t, "platform CA 2")
	path := writeTemp(t, first)
	w, err := parse(t, []string{"--vault-ca-file=" + path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	copied := w
	podCA := func() string {
		t.Helper()
		p, _, err := config.ParsePod(nil, "app", copied)
		if err != nil {
			t.Fatal(err)
		}
		return p.CACerts
	}
	if changed, err := w.VaultCA.Reload(); changed || err != nil {
		t.Errorf("reload of an unchanged file: changed %v, %v", changed, err)
	}
	if err := os.WriteFile(path, second, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.VaultCA.Reload(); !changed || err != nil || podCA() != string(second) {
		t.Errorf("after a change: changed %v, %v; pods get\n%s\nwant\n%s", changed, err, podCA(), second)
	}
	if err := os.WriteFile(path, []byte("half-written-canary"), 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := w.VaultCA.Reload()
	if err == nil || changed || podCA() != string(second) {
		t.Errorf("an invalid bundle: changed %v, %v; pods get\n%s\nwant the last good one", changed, err, podCA())
	}
	if err != nil && strings.Contains(err.Error(), "canary") {
		t.Errorf("the error repeats the file's content: %v", err)
	}
}

func TestVaultCAFileErrors(t *testing.T) {
	t.Parallel()
	ca := testCAPEM(t, "platform CA")
	missing := filepath.Join(t.TempDir(), "absent.pem")
	for name, tc := range map[string]struct {
		path, want string
	}{
		"missing":  {missing, "invalid value \"" + missing + "\" for flag -vault-ca-file: open " + missing + ": no such file or directory"},
		"no certs": {writeTemp(t, []byte("not a certificate\n")), ": holds no PEM certificate"},
		"too large": {
			writeTemp(t, bytes.Repeat(ca, 65536/len(ca)+1)),
			"more than the 65536 an envexec setting may carry (an environment variable); give only the CAs that sign Vault's certificate, not a system bundle",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, []string{"--vault-ca-file=" + tc.path}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestWebhookClusterEnv: the variables that locate the cluster are kept for the Kubernetes
// client, and nothing else of the environment is.
func TestWebhookClusterEnv(t *testing.T) {
	t.Parallel()
	w, err := parse(t, nil, map[string]string{
		"KUBECONFIG": "/a:/b", "HOME": "/home/w", "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
		"VAULT_TOKEN": "canary-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"KUBECONFIG": "/a:/b", "HOME": "/home/w", "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
	if !reflect.DeepEqual(w.ClusterEnv, want) {
		t.Errorf("ClusterEnv = %v, want %v", w.ClusterEnv, want)
	}
}

// TestParsePodWithoutOursAsTheLongWay: a pod carrying none of our annotations (nor, when
// they are read, bank-vaults' ones) is parsed without walking the annotation table, and
// gets what the long way gives: the long way is forced by adding one of ours at its
// default (inject: "true").
func TestParsePodWithoutOursAsTheLongWay(t *testing.T) {
	t.Parallel()
	annotations := []map[string]string{
		nil,
		{},
		{"prometheus.io/scrape": "true", "kubectl.kubernetes.io/restartedAt": "2026-08-01T10:00:00Z"},
		{"vault-injector.io": "x", "VAULT-INJECTOR.IO/role": "x", "x/vault-injector.io/role": "x", "vault-injector.io.evil/role": "x"},
		{"vault.security.banzaicloud.io/vault-role": "x", "vault.security.banzaicloud.io/unsupported": "y"},
		{"vault.security.banzaicloud.io": "x", "": ""},
	}
	for _, args := range [][]string{nil, {"--bank-vaults-annotations=false"}} {
		w, err := parse(t, args, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range annotations {
			short, shortWarnings, shortErr := config.ParsePod(m, "sa", w)
			long := map[string]string{"vault-injector.io/inject": "true"}
			for k, v := range m {
				long[k] = v
			}
			want, wantWarnings, wantErr := config.ParsePod(long, "sa", w)
			if !reflect.DeepEqual(short, want) || !slices.Equal(shortWarnings, wantWarnings) || fmt.Sprint(shortErr) != fmt.Sprint(wantErr) {
				t.Errorf("%v %v: without ours %+v %q %v; the long way %+v %q %v", args, m, short, shortWarnings, shortErr, want, wantWarnings, wantErr)
			}
		}
	}
}
