// Package framework starts the real components vault-injector runs with (a Kubernetes
// control plane from envtest, a node with containerd and a kubelet, Vault dev servers, an
// OCI registry, and the product's own release installed by helm), so the e2e suite, the
// local demo and the pod start benchmark exercise the product end to end on one machine.
//
// Every starter returns a value with a Stop method; callers own the order of shutdown.
// Nothing here logs or returns secret values: errors name objects, paths and variables.
package framework
