// Package kube is the webhook's small typed client for the few kinds it reads and writes:
// ServiceAccounts and Secrets (pull secrets, the self-managed certificate) and its
// MutatingWebhookConfiguration. controller-runtime's client registers every API group's
// types and typed clients, which were most of the webhook binary and of its memory.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Object is one of the kinds Client knows: *corev1.Secret, *corev1.ServiceAccount or
// *admissionregistrationv1.MutatingWebhookConfiguration.
type Object interface {
	GetNamespace() string
	GetName() string
}

// Reader gets one object; *Client is one, tests wrap it to record reads.
type Reader interface {
	// Get reads the object named key into obj.
	Get(ctx context.Context, key types.NamespacedName, obj Object) error
}

// Client reads and writes single objects over the apiserver's REST API; errors are the
// apiserver's own Status (apierrors.IsNotFound and friends work on them).
type Client struct {
	http *http.Client
	base *url.URL
}

// maxResponseBytes bounds what is read of one answer; the objects here are small.
const maxResponseBytes = 8 << 20

// New returns a client for cfg.
func New(cfg *Config) (*Client, error) {
	hc, err := cfg.httpClient()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return NewForHTTP(cfg.Host, hc)
}

// NewForHTTP returns a client that reaches the apiserver at host with hc, which carries
// the credentials (tests build it with client-go, impersonation included).
func NewForHTTP(host string, hc *http.Client) (*Client, error) {
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	base, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("kubernetes host %q: %w", host, err)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	return &Client{http: hc, base: base}, nil
}

// errUnknownKind is a programming error: an object of a kind Client does not serve.
var errUnknownKind = errors.New("kube: unsupported kind")

// ErrInvalidName refuses a name or namespace that is not one the apiserver can hold:
// names reach us from pods and from anyone who sends the webhook a review, and a path
// segment "." or ".." would address another object than the one named.
var ErrInvalidName = errors.New("kube: not a valid object name")

// checkName accepts a DNS subdomain name (every kind we read) and an empty or DNS label
// namespace.
func checkName(namespace, name string) error {
	if len(validation.IsDNS1123Subdomain(name)) > 0 || (namespace != "" && len(validation.IsDNS1123Label(namespace)) > 0) {
		return fmt.Errorf("%w: namespace %q, name %q", ErrInvalidName, truncateName(namespace), truncateName(name))
	}
	return nil
}

// truncateName keeps a refused name short enough for a message.
func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// resource says where obj's kind lives and sets its apiVersion and kind, which the
// apiserver wants on writes.
func resource(obj Object) (collection string, gr schema.GroupResource, err error) {
	if err := checkName(obj.GetNamespace(), obj.GetName()); err != nil {
		return "", schema.GroupResource{}, err
	}
	ns := func(plural string) string {
		return "/api/v1/namespaces/" + url.PathEscape(obj.GetNamespace()) + "/" + plural
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		o.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		return ns("secrets"), corev1.Resource("secrets"), nil
	case *corev1.ServiceAccount:
		o.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}
		return ns("serviceaccounts"), corev1.Resource("serviceaccounts"), nil
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		o.TypeMeta = metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"}
		return "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", admissionregistrationv1.Resource("mutatingwebhookconfigurations"), nil
	}
	return "", schema.GroupResource{}, fmt.Errorf("%w %T", errUnknownKind, obj)
}

// Get implements Reader.
func (c *Client) Get(ctx context.Context, key types.NamespacedName, obj Object) error {
	switch o := obj.(type) {
	case *corev1.Secret:
		o.Namespace, o.Name = key.Namespace, key.Name
	case *corev1.ServiceAccount:
		o.Namespace, o.Name = key.Namespace, key.Name
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		o.Name = key.Name
	}
	collection, gr, err := resource(obj)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodGet, collection+"/"+url.PathEscape(key.Name), gr, key.Name, nil, obj)
}

// Create creates obj and reads back what the apiserver stored into it.
func (c *Client) Create(ctx context.Context, obj Object) error {
	collection, gr, err := resource(obj)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, collection, gr, obj.GetName(), obj, obj)
}

// Update replaces obj; its resourceVersion makes the write conditional (409 on a race).
func (c *Client) Update(ctx context.Context, obj Object) error {
	collection, gr, err := resource(obj)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, collection+"/"+url.PathEscape(obj.GetName()), gr, obj.GetName(), obj, obj)
}

func (c *Client) do(ctx context.Context, method, path string, gr schema.GroupResource, name string, in, out Object) error {
	var body io.Reader
	if in != nil {
		b, err := jsonv2.Marshal(in, jsonv1.DefaultOptionsV1())
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", gr, name, err)
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", method, gr, name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s %s: read the answer: %w", method, gr, name, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var st metav1.Status
		if jsonv2.Unmarshal(data, &st, jsonv1.DefaultOptionsV1()) == nil && st.Kind == "Status" {
			return &apierrors.StatusError{ErrStatus: st}
		}
		// Not the apiserver's Status (a proxy in between): the code alone, never the body.
		return apierrors.NewGenericServerResponse(resp.StatusCode, method, gr, name, "", 0, false)
	}
	if err := jsonv2.Unmarshal(data, out, jsonv1.DefaultOptionsV1()); err != nil {
		return fmt.Errorf("%s %s %s: decode the answer: %w", method, gr, name, err)
	}
	return nil
}
