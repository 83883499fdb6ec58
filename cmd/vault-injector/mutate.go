package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/webhook"
)

// runMutate prints what the webhook would make of the objects in a file, offline: for
// code review and GitOps diffs. Pods and the pod templates of workloads are mutated with
// the same injector; image entrypoints are not looked up, so containers with references
// must set their command.
func runMutate(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vault-injector mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "-", "file with one or more YAML documents (- for standard input)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vault-injector mutate -f FILE [webhook flags]\n\n"+
			"Prints the objects in FILE as the webhook would store them. Pods and the pod templates of\n"+
			"Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs are mutated.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	cfg, err := config.ParseWebhook(fs, args, lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", *file, err)
	}
	docs := splitYAML(data)
	out := make([][]byte, 0, len(docs))
	var errs []error
	for i, doc := range docs {
		mutated, warnings, err := mutateDocument(ctx, doc, cfg)
		for _, w := range warnings {
			fmt.Fprintf(stderr, "warning: document %d: %s\n", i+1, w)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		out = append(out, mutated)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err = stdout.Write(bytes.Join(out, []byte("---\n")))
	return err
}

// splitYAML cuts a multi-document stream at "---" lines, dropping empty documents.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if i := bytes.IndexByte(d, '\n'); i >= 0 && !bytes.HasPrefix(d, []byte("\n")) {
			d = d[i+1:] // the rest of a "--- # comment" line
		}
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// templatePaths says where each workload kind keeps its pod template.
var templatePaths = map[string][]string{
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

func mutateDocument(ctx context.Context, doc []byte, cfg config.Webhook) ([]byte, []string, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return nil, nil, fmt.Errorf("parse YAML: %w", err)
	}
	kind, _ := obj["kind"].(string)
	path, isWorkload := templatePaths[kind]
	var warnings []string
	if kind == "Pod" || isWorkload {
		var err error
		if warnings, err = mutateAt(ctx, obj, path, cfg); err != nil {
			return nil, warnings, err
		}
	}
	out, err := yaml.Marshal(obj)
	return out, warnings, err
}

// mutateAt decides on the pod (template) at path in obj as the webhook does (Admit, without
// image lookups) and applies the same JSON patch, so every other field stays as written.
func mutateAt(ctx context.Context, obj map[string]any, path []string, cfg config.Webhook) ([]string, error) {
	tmpl := obj
	for _, k := range path {
		next, ok := tmpl[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no %s in the object", strings.Join(path, "."))
		}
		tmpl = next
	}
	var pod corev1.Pod
	if err := convert(tmpl, &pod); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	if meta, ok := obj["metadata"].(map[string]any); ok && pod.Namespace == "" {
		pod.Namespace, _ = meta["namespace"].(string) // for messages only
	}
	d := webhook.Admit(ctx, &pod, cfg, nil)
	switch d.Outcome {
	case webhook.OutcomeSkipped:
		return d.Warnings, nil
	case webhook.OutcomeMutated:
	default:
		return d.Warnings, errors.New(d.Message())
	}
	// The webhook's own patch, applied to the template as the apiserver applies it.
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return d.Warnings, err
	}
	patch, err := jsonpatch.DecodePatch(d.Patch)
	if err != nil {
		return d.Warnings, fmt.Errorf("read the patch: %w", err)
	}
	if raw, err = patch.Apply(raw); err != nil {
		return d.Warnings, fmt.Errorf("apply the patch: %w", err)
	}
	var mutated map[string]any
	if err := json.Unmarshal(raw, &mutated); err != nil {
		return d.Warnings, err
	}
	maps.Copy(tmpl, mutated)
	return d.Warnings, nil
}

// convert moves a value between Go types through JSON, as the apiserver would see it.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}
