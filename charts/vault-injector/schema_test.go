package chart_test

import (
	"os"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// TestSchemaRejects: values.schema.json stops a typo or a wrong type before anything is
// rendered, naming the offending value (helm checks the schema on lint, template, install
// and upgrade alike).
func TestSchemaRejects(t *testing.T) {
	h := newHelm(t)
	cases := map[string]struct {
		set  string // a --set-json argument
		want string // in helm's error
	}{
		"unknown top-level key":  {`replicas=3`, "additional properties 'replicas' not allowed"},
		"unknown nested key":     {`webhook={"failurPolicy":"Ignore"}`, "additional properties 'failurPolicy' not allowed"},
		"wrong type":             {`replicaCount="two"`, "/replicaCount': got string, want integer"},
		"wrong type of bool":     {`webhook={"optIn":"yes"}`, "/webhook/optIn': got string, want boolean"},
		"unknown mode":           {`certificates={"mode":"vault"}`, "/certificates/mode'"},
		"duration without unit":  {`envexec={"timeout":"60"}`, "/envexec/timeout'"},
		"timeout above 30s":      {`webhook={"timeoutSeconds":45}`, "/webhook/timeoutSeconds'"},
		"provided without CA":    {`certificates={"mode":"provided","provided":{"secretName":"tls"}}`, "/certificates/provided/caBundle'"},
		"issuerRef without name": {`certificates={"mode":"cert-manager","certManager":{"issuerRef":{"kind":"ClusterIssuer"}}}`, "missing property 'name'"},
		"unknown env field":      {`extraEnv=[{"name":"A","vaule":"b"}]`, "additional properties 'vaule' not allowed"},
		"vault CA not PEM":       {`vault={"caBundle":"/etc/ssl/ca.pem"}`, "/vault/caBundle'"},
		"init user root":         {`injector={"runAsUser":0}`, "/injector/runAsUser'"},
		"init not a quantity":    {`injector={"resources":{"requests":{"cpu":"lots"}}}`, "/injector/resources/requests/cpu'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"template", "vi", ".", "--set-json", tc.set},
				{"lint", ".", "--set-json", tc.set},
			} {
				_, err := h.run(t, cmd...)
				if err == nil {
					t.Fatalf("helm %s accepted %s", cmd[0], tc.set)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("helm %s error lacks %q:\n%v", cmd[0], tc.want, err)
				}
			}
		})
	}
}

// TestRenderRefuses: combinations the schema cannot express stop the render with a message
// that says what to change.
func TestRenderRefuses(t *testing.T) {
	h := newHelm(t)
	cases := map[string]struct {
		args []string
		want string
	}{
		"service monitor without metrics": {
			[]string{"--set", "server.metricsPort=0", "--set", "metrics.serviceMonitor.enabled=true"},
			"metrics.serviceMonitor.enabled needs server.metricsPort to be set",
		},
		"default pull secret without its registries": {
			[]string{"--set", "registry.defaultPullSecret=infra/pull"},
			"registry.defaultPullSecret needs registry.defaultPullSecretRegistries",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := h.run(t, append([]string{"template", "vi", "."}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSchemaMatchesValues: the schema describes exactly the keys values.yaml has, so no
// value is unchecked and the schema admits no key that the templates would ignore.
func TestSchemaMatchesValues(t *testing.T) {
	t.Parallel()
	var values, schema map[string]any
	for file, into := range map[string]*map[string]any{"values.yaml": &values, "values.schema.json": &schema} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := sigsyaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	compareKeys(t, "", values, schema)
}

// compareKeys walks the schema's properties alongside the values; objects the schema
// passes through to Kubernetes (no properties of their own) are not walked into, and an
// empty default (such as certManager.issuerRef) may leave its optional keys out.
func compareKeys(t *testing.T, path string, values, schema map[string]any) {
	t.Helper()
	props, ok := schema["properties"].(map[string]any)
	if !ok {
		return
	}
	if schema["additionalProperties"] != false {
		t.Errorf("schema of %q allows unknown keys", path)
	}
	for key, sub := range props {
		v, inValues := values[key]
		if !inValues && len(values) > 0 {
			t.Errorf("schema has %s%s, values.yaml does not", path, key)
		}
		if m, isMap := v.(map[string]any); isMap {
			compareKeys(t, path+key+".", m, sub.(map[string]any))
		}
	}
	for key := range values {
		if _, inSchema := props[key]; !inSchema {
			t.Errorf("values.yaml has %s%s, the schema does not", path, key)
		}
	}
}
