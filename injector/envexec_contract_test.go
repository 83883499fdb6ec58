package injector_test

import (
	"slices"
	"testing"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec"
	"github.com/vault-injector/vault-injector/injector"
)

// TestEnvexecContract checks that every variable the injector sets is one envexec reads,
// so the two binaries cannot drift apart (envexec rejects unknown ENVEXEC_ variables).
func TestEnvexecContract(t *testing.T) {
	t.Parallel()
	if injector.EnvPrefix != envexec.EnvPrefix {
		t.Fatalf("prefix %q != envexec's %q", injector.EnvPrefix, envexec.EnvPrefix)
	}
	known := []string{
		envexec.EnvVaultAddr, envexec.EnvAuthPath, envexec.EnvRole, envexec.EnvTokenFile, envexec.EnvTimeout,
		envexec.EnvLogLevel, envexec.EnvPod, envexec.EnvNamespace, envexec.EnvContainer,
	}
	cfg := config.Pod{Inject: true, InjectorImage: "i", EnvexecPath: "/e", VaultAddr: "http://v", Role: "r", AuthPath: "a", LogLevel: config.LogInfo}
	out, _, err := injector.Inject(typicalPod(), cfg, injector.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	var set []string
	for _, e := range out.Spec.Containers[0].Env {
		if len(e.Name) > len(injector.EnvPrefix) && e.Name[:len(injector.EnvPrefix)] == injector.EnvPrefix {
			set = append(set, e.Name)
			if !slices.Contains(known, e.Name) {
				t.Errorf("injector sets %s, which envexec does not read", e.Name)
			}
		}
	}
	if len(set) == 0 {
		t.Fatal("injector set no envexec variables")
	}
}
