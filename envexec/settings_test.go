package envexec

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseSettingsDefaults(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]string{"PATH=/bin", EnvVaultAddr + "=https://vault.example:8200/", EnvRole + "=app", "VAULT_ADDR=http://ignored"})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		AuthPath:  "kubernetes",
		Role:      "app",
		TokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
		Timeout:   60 * time.Second,
		LogLevel:  slog.LevelInfo,
	}
	got := s
	got.VaultAddr = nil
	if got != want {
		t.Errorf("settings = %+v, want %+v", got, want)
	}
	if s.VaultAddr.String() != "https://vault.example:8200" {
		t.Errorf("addr = %s, want the trailing slash trimmed", s.VaultAddr)
	}
}

func TestParseSettingsAll(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]string{
		EnvVaultAddr + "=http://127.0.0.1:8200/prefix", EnvRole + "=r", EnvAuthPath + "=k8s/cluster-1",
		EnvTokenFile + "=/tmp/t", EnvTimeout + "=1m30s", EnvLogLevel + "=debug",
		EnvPod + "=p", EnvNamespace + "=ns", EnvContainer + "=c",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.VaultAddr.String() != "http://127.0.0.1:8200/prefix" || s.AuthPath != "k8s/cluster-1" || s.TokenFile != "/tmp/t" ||
		s.Timeout != 90*time.Second || s.LogLevel != slog.LevelDebug || s.Pod != "p" || s.Namespace != "ns" || s.Container != "c" {
		t.Errorf("settings = %+v", s)
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
		"missing addr":       {unset: EnvVaultAddr, wantVar: EnvVaultAddr, wantMsg: "is required"},
		"missing role":       {unset: EnvRole, wantVar: EnvRole, wantMsg: "is required"},
		"empty role":         {set: map[string]string{EnvRole: " "}, wantVar: EnvRole, wantMsg: "empty"},
		"addr scheme":        {set: map[string]string{EnvVaultAddr: "vault:8200"}, wantVar: EnvVaultAddr, wantMsg: "scheme"},
		"addr no host":       {set: map[string]string{EnvVaultAddr: "https://"}, wantVar: EnvVaultAddr, wantMsg: "host"},
		"addr query":         {set: map[string]string{EnvVaultAddr: "https://v?x=1"}, wantVar: EnvVaultAddr, wantMsg: "query"},
		"addr user":          {set: map[string]string{EnvVaultAddr: "https://u:p@v"}, wantVar: EnvVaultAddr, wantMsg: "user"},
		"addr not url":       {set: map[string]string{EnvVaultAddr: "http://[::1"}, wantVar: EnvVaultAddr, wantMsg: "not a URL"},
		"timeout not dur":    {set: map[string]string{EnvTimeout: "60"}, wantVar: EnvTimeout, wantMsg: "duration"},
		"timeout zero":       {set: map[string]string{EnvTimeout: "0s"}, wantVar: EnvTimeout, wantMsg: "positive"},
		"timeout negative":   {set: map[string]string{EnvTimeout: "-1s"}, wantVar: EnvTimeout, wantMsg: "positive"},
		"timeout empty":      {set: map[string]string{EnvTimeout: ""}, wantVar: EnvTimeout, wantMsg: "duration"},
		"level unknown":      {set: map[string]string{EnvLogLevel: "trace"}, wantVar: EnvLogLevel, wantMsg: "want debug"},
		"level upper":        {set: map[string]string{EnvLogLevel: "DEBUG"}, wantVar: EnvLogLevel, wantMsg: "want debug"},
		"auth path slash":    {set: map[string]string{EnvAuthPath: "/kubernetes"}, wantVar: EnvAuthPath, wantMsg: "start or end"},
		"auth path prefixed": {set: map[string]string{EnvAuthPath: "auth/kubernetes"}, wantVar: EnvAuthPath, wantMsg: "without"},
		"auth path empty":    {set: map[string]string{EnvAuthPath: ""}, wantVar: EnvAuthPath, wantMsg: "empty"},
		"auth path query":    {set: map[string]string{EnvAuthPath: "k?x"}, wantVar: EnvAuthPath, wantMsg: "must not contain"},
		"token file empty":   {set: map[string]string{EnvTokenFile: ""}, wantVar: EnvTokenFile, wantMsg: "empty"},
		"unknown setting":    {set: map[string]string{EnvPrefix + "TIMEOUTS": "5s"}, wantVar: EnvPrefix + "TIMEOUTS", wantMsg: "unknown setting"},
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
			if !errors.Is(err, errSettings) || exitCode(err) != ExitSettings {
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
