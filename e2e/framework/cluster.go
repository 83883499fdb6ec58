package framework

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// APIEndpoint is how to reach the apiserver as its admin, in a form that crosses process
// boundaries (SynchronizedBeforeSuite passes it as JSON to every Ginkgo process).
type APIEndpoint struct {
	Host     string `json:"host"`
	CAData   []byte `json:"caData"`
	CertData []byte `json:"certData"`
	KeyData  []byte `json:"keyData"`
}

// RESTConfig turns the endpoint into a client configuration.
func (e APIEndpoint) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            e.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.CAData, CertData: e.CertData, KeyData: e.KeyData},
		// A test apiserver on loopback: client-side throttling only slows the suite.
		QPS: 1000, Burst: 2000,
	}
}

// Cluster is a client of the control plane with the few operations the tests need.
type Cluster struct {
	// Client is a controller-runtime client for typed CRUD.
	Client client.Client
	// Clientset reaches subresources such as serviceaccounts/token.
	Clientset kubernetes.Interface
	// Endpoint is what the clients were built from; its Host and CAData are what Vault's
	// Kubernetes auth and the pods' ca.crt need.
	Endpoint APIEndpoint
}

// NewCluster builds the clients for an endpoint.
func NewCluster(ep APIEndpoint) (*Cluster, error) {
	cfg := ep.RESTConfig()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("build client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build clientset: %w", err)
	}
	return &Cluster{Client: c, Clientset: cs, Endpoint: ep}, nil
}

// PodToken requests a ServiceAccount token bound to the pod, as the kubelet does for a
// projected token volume. An empty audience means the apiserver's default audiences.
func (c *Cluster) PodToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error) {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(expirationSeconds),
		BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
		},
	}}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	sa := serviceAccountName(pod)
	out, err := c.Clientset.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request token of serviceaccount %s/%s: %w", pod.Namespace, sa, err)
	}
	return out.Status.Token, nil
}

// serviceAccountName is the account the pod runs as; with the ServiceAccount admission
// plugin off, an unset name stays empty in the stored pod, where a cluster says "default".
func serviceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default"
	}
	return pod.Spec.ServiceAccountName
}
