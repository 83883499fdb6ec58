package injector_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/podtest"
)

// TestSettingsSurviveKubeletExpansion: the webhook validates a setting's value and writes
// it as a literal env value, but the kubelet expands $(NAME) (from the tenant's earlier
// variables, or the webhook's own earlier settings) and turns $$ into $ in every env value
// before envexec reads it. So envexec reads something other than what the settings
// contract checked; the image entrypoint is escaped (escapeExpansion) but settings are not.
func TestSettingsSurviveKubeletExpansion(t *testing.T) {
	t.Parallel()
	for key, v := range map[string]string{
		"vault-namespace": "team-$(ENVEXEC_VAULT_ADDR)",
		"transit-key":     "key-$(TENANT)",
		"from-path":       "secret/data/$(TENANT)",
	} {
		cfg, _, err := config.ParsePod(map[string]string{config.AnnotationPrefix + key: v}, "app", contractWebhook(t))
		if err != nil {
			continue // refusing values the kubelet would expand is a fix too
		}
		pod := typicalPod()
		c := &pod.Spec.Containers[0]
		c.Env = append([]corev1.EnvVar{{Name: "TENANT", Value: "../../sys/raw"}}, c.Env...)
		out, _, err := injector.Inject(pod, cfg, injector.Facts{})
		if err != nil {
			t.Fatalf("%s=%q: %v", key, v, err)
		}
		defined := map[string]string{}
		for _, e := range out.Spec.Containers[0].Env {
			got := podtest.Expand(e.Value, func(n string) (string, bool) { v, ok := defined[n]; return v, ok })
			defined[e.Name] = got
			if strings.HasPrefix(e.Name, injector.EnvPrefix) && strings.Contains(e.Value, "$(") && got != strings.ReplaceAll(e.Value, "$$", "$") {
				t.Errorf("annotation %s=%q was admitted, but the kubelet hands envexec %s=%q", key, v, e.Name, got)
			}
		}
	}
}
