package settings

import (
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/vaultref"
)

func TestParseSettingsDefaults(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]string{
		"PATH=/bin", EnvVaultAddr + "=https://vault.example:8200/", EnvRole + "=app",
		"VAULT_ADDR=http://ignored", "VAULT_NAMESPACE=ignored", "VAULT_CACERT=/ignored", "VAULT_SKIP_VERIFY=true",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		AuthMethod:    AuthKubernetes,
		AuthPath:      "kubernetes",
		Role:          "app",
		TokenFile:     "/var/run/secrets/kubernetes.io/serviceaccount/token",
		ClientTimeout: 15 * time.Second,
		Timeout:       60 * time.Second,
		LogLevel:      slog.LevelInfo,
		TransitPath:   "transit",
		OnExpiry:      ExpiryRestart,
		Signal:        syscall.SIGTERM,
		Grace:         30 * time.Second,
		OnChange:      ExpiryRestart,
	}
	got := s
	got.VaultAddr = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings =\n%+v\nwant\n%+v", got, want)
	}
	if s.VaultAddr.String() != "https://vault.example:8200" {
		t.Errorf("addr = %s, want the trailing slash trimmed", s.VaultAddr)
	}
}

func TestParseSettingsAll(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]string{
		EnvVaultAddr + "=http://127.0.0.1:8200/prefix", EnvRole + "=r", EnvAuthMethod + "=jwt", EnvAuthPath + "=k8s/cluster-1",
		EnvTokenFile + "=/tmp/t", EnvTimeout + "=1m30s", EnvClientTimeout + "=2s", EnvLogLevel + "=debug", EnvLogFormat + "=text",
		EnvPod + "=p", EnvNamespace + "=ns", EnvContainer + "=c", EnvVaultNamespace + "=team-a/apps", EnvCAFile + "=/ca.pem",
		EnvTLSSkipVerify + "=true", EnvAllowLogin + "=true", EnvTransitKey + "=app", EnvTransitPath + "=crypto",
		EnvIgnoreMissing + "=true", EnvFromPath + "=secret/app, kv/x#2", EnvPassthrough + "=" + EnvPod + ", " + EnvNamespace,
		EnvDaemon + "=true", EnvDaemonOnExpiry + "=signal", EnvDaemonSignal + "=HUP", EnvDaemonGrace + "=5s",
		EnvRoleIDFile + "=/r", EnvSecretIDFile + "=/s", EnvVaultTokenFile + "=/v",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		VaultAddr: s.VaultAddr, AuthMethod: AuthJWT, AuthPath: "k8s/cluster-1", Role: "r", TokenFile: "/tmp/t",
		RoleIDFile: "/r", SecretIDFile: "/s", VaultTokenFile: "/v", VaultNamespace: "team-a/apps", CAFile: "/ca.pem",
		TLSSkipVerify: true, ClientTimeout: 2 * time.Second, Timeout: 90 * time.Second, LogLevel: slog.LevelDebug, LogText: true,
		Pod: "p", Namespace: "ns", Container: "c", AllowLogin: true, TransitKey: "app", TransitPath: "crypto",
		IgnoreMissing: true, FromPath: []vaultref.PathRef{{Path: "secret/app"}, {Path: "kv/x", Version: 2}},
		Passthrough: []string{EnvPod, EnvNamespace}, Daemon: true, OnExpiry: ExpirySignal, Signal: syscall.SIGHUP, Grace: 5 * time.Second, OnChange: ExpiryRestart,
	}
	if !reflect.DeepEqual(s, want) || s.VaultAddr.String() != "http://127.0.0.1:8200/prefix" {
		t.Errorf("settings =\n%+v\nwant\n%+v", s, want)
	}
}

func TestParseSettingsAuthMethods(t *testing.T) {
	t.Parallel()
	addr := EnvVaultAddr + "=https://v"
	for _, tc := range []struct {
		env      []string
		wantPath string
	}{
		{[]string{addr, EnvAuthMethod + "=approle", EnvRoleIDFile + "=/r"}, "approle"},
		{[]string{addr, EnvAuthMethod + "=token", EnvVaultTokenFile + "=/t"}, "token"},
		{[]string{addr, EnvAuthMethod + "=jwt", EnvRole + "=r"}, "jwt"},
		{[]string{addr, EnvAuthMethod + "=approle", EnvRoleIDFile + "=/r", EnvAuthPath + "=ar"}, "ar"},
	} {
		s, err := ParseSettings(tc.env)
		if err != nil || s.AuthPath != tc.wantPath {
			t.Errorf("ParseSettings(%q) = auth path %q, %v; want %q", tc.env, s.AuthPath, err, tc.wantPath)
		}
	}
}

func TestParseSettingsErrors(t *testing.T) {
	t.Parallel()
	base := map[string]string{EnvVaultAddr: "https://vault:8200", EnvRole: "app"}
	tests := map[string]struct {
		set     map[string]string
		unset   string
		wantVar string
		wantMsg string
	}{
		"missing addr":          {unset: EnvVaultAddr, wantVar: EnvVaultAddr, wantMsg: "is required"},
		"missing role":          {unset: EnvRole, wantVar: EnvRole, wantMsg: "is required"},
		"missing role jwt":      {unset: EnvRole, set: map[string]string{EnvAuthMethod: "jwt"}, wantVar: EnvRole, wantMsg: "is required"},
		"empty role":            {set: map[string]string{EnvRole: " "}, wantVar: EnvRole, wantMsg: "empty"},
		"addr scheme":           {set: map[string]string{EnvVaultAddr: "vault:8200"}, wantVar: EnvVaultAddr, wantMsg: "scheme"},
		"addr no host":          {set: map[string]string{EnvVaultAddr: "https://"}, wantVar: EnvVaultAddr, wantMsg: "host"},
		"addr query":            {set: map[string]string{EnvVaultAddr: "https://v?x=1"}, wantVar: EnvVaultAddr, wantMsg: "query"},
		"addr user":             {set: map[string]string{EnvVaultAddr: "https://u:p@v"}, wantVar: EnvVaultAddr, wantMsg: "user"},
		"addr not url":          {set: map[string]string{EnvVaultAddr: "http://[::1"}, wantVar: EnvVaultAddr, wantMsg: "not a URL"},
		"timeout not dur":       {set: map[string]string{EnvTimeout: "60"}, wantVar: EnvTimeout, wantMsg: "duration"},
		"timeout zero":          {set: map[string]string{EnvTimeout: "0s"}, wantVar: EnvTimeout, wantMsg: "positive"},
		"timeout negative":      {set: map[string]string{EnvTimeout: "-1s"}, wantVar: EnvTimeout, wantMsg: "positive"},
		"timeout empty":         {set: map[string]string{EnvTimeout: ""}, wantVar: EnvTimeout, wantMsg: "duration"},
		"client timeout":        {set: map[string]string{EnvClientTimeout: "soon"}, wantVar: EnvClientTimeout, wantMsg: "duration"},
		"level unknown":         {set: map[string]string{EnvLogLevel: "trace"}, wantVar: EnvLogLevel, wantMsg: "want debug"},
		"level upper":           {set: map[string]string{EnvLogLevel: "DEBUG"}, wantVar: EnvLogLevel, wantMsg: "want debug"},
		"log format":            {set: map[string]string{EnvLogFormat: "logfmt"}, wantVar: EnvLogFormat, wantMsg: "want json or text"},
		"auth method":           {set: map[string]string{EnvAuthMethod: "ldap"}, wantVar: EnvAuthMethod, wantMsg: "want kubernetes, jwt"},
		"approle without id":    {set: map[string]string{EnvAuthMethod: "approle"}, wantVar: EnvRoleIDFile, wantMsg: "is required with"},
		"token without file":    {set: map[string]string{EnvAuthMethod: "token"}, wantVar: EnvVaultTokenFile, wantMsg: "is required with"},
		"auth path slash":       {set: map[string]string{EnvAuthPath: "/kubernetes"}, wantVar: EnvAuthPath, wantMsg: "start or end"},
		"auth path prefixed":    {set: map[string]string{EnvAuthPath: "auth/kubernetes"}, wantVar: EnvAuthPath, wantMsg: "without"},
		"auth path query":       {set: map[string]string{EnvAuthPath: "k?x"}, wantVar: EnvAuthPath, wantMsg: "must not contain"},
		"token file empty":      {set: map[string]string{EnvTokenFile: ""}, wantVar: EnvTokenFile, wantMsg: "empty"},
		"bool yes":              {set: map[string]string{EnvIgnoreMissing: "yes"}, wantVar: EnvIgnoreMissing, wantMsg: "want true or false"},
		"skip verify 1":         {set: map[string]string{EnvTLSSkipVerify: "1"}, wantVar: EnvTLSSkipVerify, wantMsg: "want true or false"},
		"namespace space":       {set: map[string]string{EnvVaultNamespace: "a b"}, wantVar: EnvVaultNamespace, wantMsg: "whitespace"},
		"transit key slash":     {set: map[string]string{EnvTransitKey: "a/b"}, wantVar: EnvTransitKey, wantMsg: "not a transit key"},
		"transit path":          {set: map[string]string{EnvTransitPath: "/t"}, wantVar: EnvTransitPath, wantMsg: "start or end"},
		"from path":             {set: map[string]string{EnvFromPath: "a,b#x"}, wantVar: EnvFromPath, wantMsg: "byte 4"},
		"passthrough prefix":    {set: map[string]string{EnvPassthrough: "VAULT_TOKEN"}, wantVar: EnvPassthrough, wantMsg: "only ENVEXEC_"},
		"passthrough unknown":   {set: map[string]string{EnvPassthrough: EnvPrefix + "NOPE"}, wantVar: EnvPassthrough, wantMsg: "not an envexec setting"},
		"on expiry":             {set: map[string]string{EnvDaemonOnExpiry: "reload"}, wantVar: EnvDaemonOnExpiry, wantMsg: "want restart, signal or stop"},
		"signal":                {set: map[string]string{EnvDaemonSignal: "SIGFOO"}, wantVar: EnvDaemonSignal, wantMsg: "want one of"},
		"signal number":         {set: map[string]string{EnvDaemonSignal: "15"}, wantVar: EnvDaemonSignal, wantMsg: "want one of"},
		"grace":                 {set: map[string]string{EnvDaemonGrace: "0s"}, wantVar: EnvDaemonGrace, wantMsg: "positive"},
		"on change":             {set: map[string]string{EnvDaemonOnChange: "exit"}, wantVar: EnvDaemonOnChange, wantMsg: "want restart, signal or stop"},
		"watch too often":       {set: map[string]string{EnvDaemon: "true", EnvDaemonWatch: "100ms"}, wantVar: EnvDaemonWatch, wantMsg: "at least 1s"},
		"watch negative":        {set: map[string]string{EnvDaemon: "true", EnvDaemonWatch: "-1m"}, wantVar: EnvDaemonWatch, wantMsg: "at least 1s"},
		"watch not a duration":  {set: map[string]string{EnvDaemon: "true", EnvDaemonWatch: "5"}, wantVar: EnvDaemonWatch, wantMsg: "not a Go duration"},
		"watch without daemon":  {set: map[string]string{EnvDaemonWatch: "1m"}, wantVar: EnvDaemonWatch, wantMsg: "needs ENVEXEC_DAEMON=true"},
		"unknown setting":       {set: map[string]string{EnvPrefix + "TIMEOUTS": "5s"}, wantVar: EnvPrefix + "TIMEOUTS", wantMsg: "unknown setting"},
		"daemon not a bool":     {set: map[string]string{EnvDaemon: "on"}, wantVar: EnvDaemon, wantMsg: "want true or false"},
		"allow login not bool":  {set: map[string]string{EnvAllowLogin: "True"}, wantVar: EnvAllowLogin, wantMsg: "want true or false"},
		"client timeout zero":   {set: map[string]string{EnvClientTimeout: "0"}, wantVar: EnvClientTimeout, wantMsg: "positive"},
		"from path empty entry": {set: map[string]string{EnvFromPath: "a,,b"}, wantVar: EnvFromPath, wantMsg: "empty path"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var env []string
			for k, v := range base {
				if k != tt.unset {
					env = append(env, k+"="+v)
				}
			}
			for k, v := range tt.set {
				env = append(env, k+"="+v)
			}
			_, err := ParseSettings(env)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not a settings error", err)
			}
			if !strings.Contains(err.Error(), tt.wantVar+": ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name %s with %q", err, tt.wantVar, tt.wantMsg)
			}
		})
	}
}

func TestParseSettingsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := ParseSettings([]string{EnvTimeout + "=soon", EnvLogLevel + "=loud"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{EnvVaultAddr, EnvRole, EnvTimeout, EnvLogLevel} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %s", err, name)
		}
	}
}

func TestCheckSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{EnvIgnoreMissing, "true", true},
		{EnvIgnoreMissing, "yes", false},
		{EnvDaemonSignal, "SIGHUP", true},
		{EnvDaemonSignal, "SIGFOO", false},
		{EnvFromPath, "secret/data/a,secret/data/b#2", true},
		{EnvFromPath, "secret/data/a#x", false},
		{EnvClientTimeout, "5s", true},
		{EnvClientTimeout, "soon", false},
		{"ENVEXEC_NOPE", "x", false},
	} {
		if err := CheckSetting(tc.name, tc.value); (err == nil) != tc.ok {
			t.Errorf("CheckSetting(%s, %q) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
}

// TestParseSettingsManifest: with ENVEXEC_SETTINGS (which the webhook always writes, and a
// pod cannot override), an ENVEXEC_* variable it does not list is refused, by name, and
// its value never appears; a listed one is read as usual.
func TestParseSettingsManifest(t *testing.T) {
	t.Parallel()
	base := []string{EnvVaultAddr + "=https://v", EnvRole + "=r", EnvSettings + "=" + EnvVaultAddr + "," + EnvRole + ", " + EnvLogLevel}
	if _, err := ParseSettings(append(slices.Clone(base), EnvLogLevel+"=debug")); err != nil {
		t.Fatalf("listed settings: %v", err)
	}
	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"envFrom key skips TLS": {
			append(slices.Clone(base), EnvTLSSkipVerify+"=true"),
			EnvTLSSkipVerify + ": was not set by the webhook (it is not listed in " + EnvSettings + ")",
		},
		"envFrom key swaps the CA": {
			append(slices.Clone(base), EnvCAFile+"=/tenant-ca-canary.pem"),
			EnvCAFile + ": was not set by the webhook",
		},
		"an unlisted value that does not parse is not quoted": {
			append(slices.Clone(base), EnvTimeout+"=hunter2 canary", EnvVaultNamespace+"=a canary", EnvTLSSkipVerify+"=canary"),
			EnvTimeout + ": was not set by the webhook",
		},
		"unknown name is also unlisted": {
			append(slices.Clone(base), EnvPrefix+"X=1"),
			EnvPrefix + "X: was not set by the webhook",
		},
		"a listed name must be ours": {
			[]string{EnvVaultAddr + "=https://v", EnvRole + "=r", EnvSettings + "=" + EnvVaultAddr + "," + EnvRole + ",PATH"},
			EnvSettings + `: "PATH" is not an ENVEXEC_* name`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSettings(tc.env)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("err = %q quotes a value", err)
			}
		})
	}
}
