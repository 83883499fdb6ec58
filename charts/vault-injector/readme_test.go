package chart_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestREADME checks that README.md lists every value of values.yaml with its `# --`
// description; -update rewrites it. A value without a description fails the test.
func TestREADME(t *testing.T) {
	t.Parallel()
	values, err := os.ReadFile("values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := renderREADME(values)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "README.md", got)
}

// valueDoc is one row of the values table.
type valueDoc struct {
	key, typ, def, desc string
}

// renderREADME makes the chart README from the values file.
func renderREADME(values []byte) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(values, &doc); err != nil {
		return "", fmt.Errorf("values.yaml: %w", err)
	}
	if len(doc.Content) != 1 {
		return "", errors.New("values.yaml: want one YAML document")
	}
	rows, err := collect(doc.Content[0], "")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(readmeHead)
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", r.key, r.typ, cell(r.def), cell(r.desc))
	}
	return b.String(), nil
}

// collect walks a mapping: a key with a `# --` comment is one row (even a map, such as
// resources); a map without one is walked into; any other key without one is an error.
func collect(m *yaml.Node, prefix string) ([]valueDoc, error) {
	var rows []valueDoc
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		desc, documented := description(k.HeadComment)
		switch {
		case documented:
			def, err := defaultJSON(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rows = append(rows, valueDoc{key: key, typ: typeName(v), def: def, desc: desc})
		case v.Kind == yaml.MappingNode && len(v.Content) > 0:
			sub, err := collect(v, key+".")
			errs = append(errs, err)
			rows = append(rows, sub...)
		default:
			errs = append(errs, fmt.Errorf("values.yaml: %s has no `# --` description", key))
		}
	}
	return rows, errors.Join(errs...)
}

// description reads the `# --` comment block above a key; continuation lines are plain
// comment lines after it.
func description(comment string) (string, bool) {
	_, after, found := strings.Cut(comment, "# --")
	if !found {
		return "", false
	}
	var words []string
	for _, line := range strings.Split(after, "\n") {
		words = append(words, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")))
	}
	return strings.TrimSpace(strings.Join(words, " ")), true
}

func typeName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if name, ok := map[string]string{"!!bool": "bool", "!!int": "int", "!!float": "float", "!!null": "null"}[v.Tag]; ok {
			return name
		}
		return "string"
	default:
		return "unknown"
	}
}

// defaultJSON shows a default compactly, as JSON (sorted keys).
func defaultJSON(v *yaml.Node) (string, error) {
	var val any
	if err := v.Decode(&val); err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(val); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// cell keeps a table cell on one line and its pipes literal.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

const readmeHead = `# vault-injector Helm chart

<!-- Generated from values.yaml by ` + "`go test ./charts/vault-injector -update`" + `; do not edit. -->

A Kubernetes mutating admission webhook that injects Vault secrets into pods: a container's
environment holds a reference such as ` + "`vault:secret/data/app/db#password`" + `, and envexec,
put in front of the container's command, replaces it with the secret inside the process only.

` + "```sh" + `
helm install vault-injector charts/vault-injector --namespace vault-injector --create-namespace \
  --set vault.addr=https://vault.example:8200
` + "```" + `

See [docs/install.md](../../docs/install.md) for certificate modes, RBAC, upgrades and
uninstalling. ` + "`values.schema.json`" + ` rejects unknown keys and wrong types.

## Values

`
