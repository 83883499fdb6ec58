package injector_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// kubeletExpand is the kubelet's expansion of an env value: $$ is a literal $, and
// $(NAME) is the value of NAME when an earlier variable of the container defines it.
func kubeletExpand(v string, defined map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		switch v[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(v[i:], ')')
			if end < 0 {
				b.WriteByte(v[i])
				continue
			}
			name := v[i+2 : i+end]
			if val, ok := defined[name]; ok {
				b.WriteString(val)
			} else {
				b.WriteString(v[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// TestAttackSettingsExpandedByKubelet: the webhook validates a setting's value and writes
// it as a literal env value, but the kubelet expands $(NAME) (from the tenant's earlier
// variables, or the webhook's own earlier settings) and turns $$ into $ in every env value
// before envexec reads it. So envexec reads something other than what the settings
// contract checked; the image entrypoint is escaped (escapeExpansion) but settings are not.
func TestAttackSettingsExpandedByKubelet(t *testing.T) {
	t.Parallel()
	for key, v := range map[string]string{
		"vault-namespace": "team-$(ENVEXEC_VAULT_ADDR)",
		"transit-key":     "key-$(TENANT)",
		"from-path":       "secret/data/$(TENANT)",
	} {
		cfg, _, err := config.ParsePod(map[string]string{config.AnnotationPrefix + key: v}, "app", contractWebhook(t, nil))
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
			got := kubeletExpand(e.Value, defined)
			defined[e.Name] = got
			if strings.HasPrefix(e.Name, injector.EnvPrefix) && strings.Contains(e.Value, "$(") && got != strings.ReplaceAll(e.Value, "$$", "$") {
				t.Errorf("annotation %s=%q was admitted, but the kubelet hands envexec %s=%q", key, v, e.Name, got)
			}
		}
	}
}
