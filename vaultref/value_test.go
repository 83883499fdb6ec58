package vaultref_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/vaultref"
)

// data decodes JSON as a resolver does (numbers kept as json.Number).
func data(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestValue(t *testing.T) {
	t.Parallel()
	d := data(t, `{
		"user": "app", "pass64": "czNjcjN0IQ==", "wrapped": "bGluZTEKbGluZTIK\nbGluZTMK\n",
		"url64": "-_-_", "port": 5432, "ratio": 1.50, "on": true, "nil": null,
		"conf": "{\"db\": {\"hosts\": [\"a\", {\"name\": \"b\"}], \"port\": 5432, \"odd.key\": \"x\"}}",
		"obj": {"b": 1, "a": "<x>"}, "padded": "  spaced\n"
	}`)
	tests := map[string]struct {
		ref  string
		want string
	}{
		"string":          {"vault:p#user", "app"},
		"number":          {"vault:p#port", "5432"},
		"float as sent":   {"vault:p#ratio", "1.50"},
		"bool":            {"vault:p#on", "true"},
		"null":            {"vault:p#nil", "null"},
		"object":          {"vault:p#obj", `{"a":"<x>","b":1}`},
		"b64dec":          {"vault:p#pass64 | b64dec", "s3cr3t!"},
		"b64dec wrapped":  {"vault:p#wrapped | b64dec", "line1\nline2\nline3\n"},
		"b64dec url":      {"vault:p#url64 | b64dec", "\xfb\xff\xbf"},
		"b64enc":          {"vault:p#user | b64enc", "YXBw"},
		"round trip":      {"vault:p#pass64 | b64dec | b64enc", "czNjcjN0IQ=="},
		"trim":            {"vault:p#padded | trim", "spaced"},
		"json pick":       {"vault:p#conf | json db.hosts.0", "a"},
		"json nested":     {"vault:p#conf | json .db.hosts.1.name", "b"},
		"json number":     {"vault:p#conf | json db.port", "5432"},
		"json object":     {"vault:p#conf | json db.hosts.1", `{"name":"b"}`},
		"json quoted":     {`vault:p#conf | json db."odd.key"`, "x"},
		"json on object":  {"vault:p#obj | json a", "<x>"},
		"template":        {"vault:p#${.user}:${.pass64 | b64dec}@db", "app:s3cr3t!@db"},
		"template + pipe": {"vault:p#${.user}-${.port} | b64enc", "YXBwLTU0MzI="},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := vaultref.Parse(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Value(d)
			if err != nil || got != tc.want {
				t.Errorf("Value(%s) = %q, %v; want %q", tc.ref, got, err, tc.want)
			}
		})
	}
}

func TestValueErrors(t *testing.T) {
	t.Parallel()
	const canary = "canary d41d8cd9!"
	d := data(t, `{"secret": "`+canary+`", "json": "{\"a\": [1]}", "trail": "{\"a\": 1} {}", "b": "x", "c": "y"}`)
	tests := map[string]struct {
		ref     string
		missing bool
		reason  string
	}{
		"missing key":          {ref: "vault:p#nope", missing: true, reason: `key "nope" not found (the secret has keys b, c, json, secret, trail)`},
		"missing in template":  {ref: "vault:p#${.b}${.nope}", missing: true, reason: `key "nope" not found`},
		"not base64":           {ref: "vault:p#secret | b64dec", reason: "transform b64dec: the value is not valid base64"},
		"not json":             {ref: "vault:p#secret | json a", reason: "transform json: the value is not valid JSON"},
		"json trailing":        {ref: "vault:p#trail | json a", reason: "text after the JSON value"},
		"json missing field":   {ref: "vault:p#json | json a.1", reason: "transform json: field a.1 not found"},
		"json bad index":       {ref: "vault:p#json | json a.01", reason: "field a.01 not found"},
		"json field of scalar": {ref: "vault:p#json | json a.0.x", reason: "field a.0.x not found"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := vaultref.Parse(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Value(d)
			if err == nil {
				t.Fatal("no error")
			}
			var mk *vaultref.MissingKeyError
			if errors.As(err, &mk) != tc.missing {
				t.Errorf("error %v: MissingKeyError = %v, want %v", err, !tc.missing, tc.missing)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not contain %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error %q leaks the value", err)
			}
		})
	}
	many := map[string]any{}
	for _, k := range strings.Split("a b c d e f g h i j k l", " ") {
		many[k] = "v"
	}
	_, err := (vaultref.Ref{Path: "p", Key: "z"}).Value(many)
	if err == nil || !strings.Contains(err.Error(), "keys a, b, c, d, e, f, g, h, i, j, ...)") {
		t.Errorf("long key list: %v", err)
	}
}

func TestApplyForLoginAndTransit(t *testing.T) {
	t.Parallel()
	r, err := vaultref.Parse("vault:login | b64enc")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Apply("hvs.x"); err != nil || got != "aHZzLng=" {
		t.Errorf("Apply = %q, %v", got, err)
	}
	if _, err := (vaultref.Transform{Func: "exec"}).Apply("x"); err == nil {
		t.Error("an unknown transform applied")
	}
}
